"""The dbt docs site, checked as a person would: everything described, lineage from each source to
the reports, and the site `make docs` serves showing the project in a browser.

One `make docs` on the demo warehouse serves all tests here: its `dbt docs generate` writes the
manifest and catalog read below (to a private target path, so dbt runs in the checkout are not
disturbed), then `dbt docs serve` serves them.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import DemoRun
from headless_chromium import ARTIFACTS_DIR, render_page
from orchestration.contract import SOURCES
from orchestration.settings import PROJECT_DIR

pytestmark = pytest.mark.slow

PROJECT_NAME = "retail_anomaly"
# The report tables every landing source feeds (through its metric series); customer_anomalies
# comes from orders alone.
REPORTS_FROM_EVERY_SOURCE = ("anomaly_events", "anomaly_incidents", "marketing_insights", "detection_kpis")
REPORTS_FROM_ONE_SOURCE = {"transactions": ("customer_anomalies",)}
# dbt docs generate builds the catalog from the warehouse: slow on a busy two-core machine.
SITE_START_TIMEOUT_S = 300
SITE_STOP_TIMEOUT_S = 30
SHOWN_MODEL = "anomaly_events"


@dataclass(frozen=True)
class DocsSite:
    url: str
    manifest: dict
    catalog: dict


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serves_manifest(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}manifest.json", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(server: subprocess.Popen) -> None:
    """SIGINT to the server's process group (make and dbt), SIGKILL if it does not end."""
    # setsid made the server's pid its group id; before that ran there is no such group.
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=SITE_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def docs_site(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsSite]:
    work_dir = tmp_path_factory.mktemp("dbt_docs")
    target_dir = work_dir / "target"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DO_NOT_TRACK": "1",
    }
    log_path = work_dir / "make-docs.log"
    with log_path.open("w") as log:
        # setsid + default SIGINT: a server started from a script otherwise ignores Ctrl+C.
        server = subprocess.Popen(
            ["setsid", "env", "--default-signal=INT", "make", "docs",
             f"DATA_DIR={demo_run.settings.data_dir}", f"DOCS_PORT={port}"],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + SITE_START_TIMEOUT_S
            while not _serves_manifest(url):
                assert server.poll() is None, f"make docs exited early:\n{log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"the docs site did not come up:\n{log_path.read_text()[-3000:]}"
                time.sleep(2)
            yield DocsSite(
                url=url,
                manifest=json.loads((target_dir / "manifest.json").read_text()),
                catalog=json.loads((target_dir / "catalog.json").read_text()),
            )
        finally:
            _stop(server)


def _project_nodes(manifest: dict, *resource_types: str) -> dict[str, dict]:
    return {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["package_name"] == PROJECT_NAME and node["resource_type"] in resource_types
    }


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    frontier = [start]
    while frontier:
        for neighbour in edges.get(frontier.pop(), []):
            if neighbour not in seen:
                seen.add(neighbour)
                frontier.append(neighbour)
    return seen


def test_every_model_seed_and_source_is_described(docs_site: DocsSite) -> None:
    manifest = docs_site.manifest
    undescribed = [
        unique_id
        for unique_id, node in {**_project_nodes(manifest, "model", "seed"), **manifest["sources"]}.items()
        if not node["description"].strip()
    ]
    undescribed += [
        f"{unique_id} (the source {node['source_name']})"
        for unique_id, node in manifest["sources"].items()
        if not node["source_description"].strip()
    ]
    assert undescribed == [], "without a description:\n" + "\n".join(sorted(undescribed))


def test_every_column_of_every_model_and_seed_is_described(docs_site: DocsSite) -> None:
    offenders = []
    for unique_id, node in _project_nodes(docs_site.manifest, "model", "seed").items():
        documented = {name.lower(): column for name, column in node["columns"].items()}
        offenders += [
            f"{unique_id}.{name}: empty description"
            for name, column in documented.items()
            if not column["description"].strip()
        ]
        # The catalog lists the columns the built relation really has; each must be in the YAML.
        built = docs_site.catalog["nodes"].get(unique_id, {}).get("columns", {})
        offenders += [f"{unique_id}.{name}: not in the YAML" for name in built if name.lower() not in documented]
    assert offenders == [], "columns without a description:\n" + "\n".join(sorted(offenders))


def test_every_model_was_built_for_the_catalog(docs_site: DocsSite) -> None:
    # Without a built relation the docs show no column types; the demo warehouse has them all.
    missing = sorted(set(_project_nodes(docs_site.manifest, "model", "seed")) - set(docs_site.catalog["nodes"]))
    assert missing == []


def test_lineage_runs_from_each_source_through_staging_to_the_reports(docs_site: DocsSite) -> None:
    manifest = docs_site.manifest
    models = _project_nodes(manifest, "model")
    reports = {node["name"]: unique_id for unique_id, node in models.items() if node["schema"] == "reports"}
    source_ids = {node["source_name"]: unique_id for unique_id, node in manifest["sources"].items()}
    assert set(SOURCES) <= set(source_ids)

    problems = []
    for source in SOURCES:
        children = [child for child in manifest["child_map"][source_ids[source]] if child in models]
        problems += [
            f"{source} is read by {models[child]['name']}, not by a staging model"
            for child in children
            if models[child]["schema"] != "staging"
        ]
        descendants = _reachable(source_ids[source], manifest["child_map"])
        problems += [
            f"{source} does not reach reports.{report}"
            for report in (*REPORTS_FROM_EVERY_SOURCE, *REPORTS_FROM_ONE_SOURCE.get(source, ()))
            if reports.get(report) not in descendants
        ]
    for report, unique_id in reports.items():
        ancestors = _reachable(unique_id, manifest["parent_map"])
        if not ancestors & {source_ids[source] for source in SOURCES}:
            problems.append(f"reports.{report} descends from none of the landing sources")
    assert problems == [], "\n".join(problems)


class DocsPageParser(HTMLParser):
    """What the rendered docs app shows: the navigation's nodes and the text outside scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.navigation: set[str] = set()
        self.text: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden_depth += 1
        node_id = dict(attrs).get("data-nav-unique-id")
        if node_id:
            self.navigation.add(node_id)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.text.append(data)

    @property
    def visible_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def _plain(text: str) -> str:
    """Text as read, whether Markdown or rendered: no emphasis or code marks, single spaces."""
    return " ".join(text.replace("`", "").replace("*", "").split())


def test_docs_site_shows_the_project_in_a_browser(docs_site: DocsSite, tmp_path: Path) -> None:
    models = _project_nodes(docs_site.manifest, "model")
    shown_id = f"model.{PROJECT_NAME}.{SHOWN_MODEL}"
    screenshot = ARTIFACTS_DIR / "dbt_docs.png"

    dom = render_page(f"{docs_site.url}#!/model/{shown_id}", screenshot, tmp_path / "chromium-profile")

    page = DocsPageParser()
    page.feed(dom)
    page.close()
    # The navigation is built by the app from the served manifest: every model, staging included.
    assert set(models) <= page.navigation, sorted(set(models) - page.navigation)
    assert any(models[node]["schema"] == "staging" for node in page.navigation & set(models))
    # The model's page: its description, and its columns with the types the catalog read from the warehouse.
    text = page.visible_text
    assert SHOWN_MODEL in text
    assert _plain(models[shown_id]["description"].split(". ")[0]) in _plain(text)
    for name, column in docs_site.catalog["nodes"][shown_id]["columns"].items():
        assert f"{name} {column['type']}" in text, name
    assert screenshot.stat().st_size > 10_000
