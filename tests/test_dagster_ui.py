"""The Dagster UI as a person sees it: `make dev`, the asset graph, a screenshot."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from headless_chromium import ARTIFACTS_DIR, render_page
from orchestration.settings import PROJECT_DIR

pytestmark = pytest.mark.slow
ASSET_NODES_QUERY = '{ assetNodes { assetKey { path } groupName hasAssetChecks } }'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("ui")
    log = (data_dir / "dagster-dev.log").open("w")
    # setsid + default SIGINT: a `dagster dev` started from a script otherwise ignores signals.
    server = subprocess.Popen(
        ["setsid", "env", "--default-signal=INT", "make", "dev", f"DATA_DIR={data_dir}", f"DAGSTER_PORT={port}"],
        cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if graphql(port, ASSET_NODES_QUERY)["data"]["assetNodes"]:
                    break
            except (OSError, KeyError, TypeError, ValueError):
                pass
            assert server.poll() is None, f"make dev exited early; see {log.name}"
            assert time.monotonic() < deadline, f"the Dagster UI did not come up; see {log.name}"
            time.sleep(2)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_asset_graph_runs_from_landing_to_alerts(dagster_ui: int) -> None:
    nodes = graphql(dagster_ui, ASSET_NODES_QUERY)["data"]["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    assert {"raw/transactions", "raw/interactions", "raw/social", "raw/email"} <= keys
    assert {"reports/anomaly_events", "serving/reports", "alerts/alert_deliveries"} <= keys
    groups = {node["groupName"] for node in nodes}
    assert {"ingestion", "staging", "reports", "delivery"} <= groups
    # dbt tests and the ingestion checks show up as asset checks.
    assert any(node["hasAssetChecks"] for node in nodes if node["assetKey"]["path"][0] == "raw")
    assert any(node["hasAssetChecks"] for node in nodes if node["assetKey"]["path"][0] == "reports")


def test_the_detection_assets_are_partitioned_by_day_for_backfills(dagster_ui: int) -> None:
    nodes = graphql(dagster_ui, "{ assetNodes { assetKey { path } partitionDefinition { type } } }")["data"]["assetNodes"]
    partitioning = {"/".join(node["assetKey"]["path"]): node["partitionDefinition"] for node in nodes}
    assert partitioning["marts/fct_metric_observations"] == {"type": "TIME_WINDOW"}
    assert partitioning["intermediate/int_metric_series_unioned"] == {"type": "TIME_WINDOW"}
    # what is not a time series stays whole
    assert partitioning["reports/anomaly_events"] is None
    assert partitioning["raw/transactions"] is None


def test_asset_graph_page_renders_in_a_browser(dagster_ui: int, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{dagster_ui}"

    def dom(path: str, screenshot: Path | None = None, height: int = 1000) -> str:
        return render_page(
            base + path, screenshot or tmp_path / "page.png", tmp_path / "profile",
            window_size=f"1600,{height}", virtual_time_ms=20000,
        )

    screenshot = ARTIFACTS_DIR / "dagster_asset_graph.png"
    lineage = dom("/asset-groups", screenshot)
    assert all(group in lineage for group in ("ingestion", "staging", "reports", "delivery"))
    assert "Join the Dagster community" not in lineage
    assert screenshot.stat().st_size > 10_000
    # The catalog renders only the rows in view: a tall window shows them all.
    catalog = dom("/assets", height=8000)
    for key in ("raw/transactions", "staging/stg_transactions__order_lines", "reports/anomaly_events",
                "serving/reports", "alerts/alert_deliveries"):
        assert f'href="/assets/{key}"' in catalog, key
    # Source tests, the ingestion checks and model tests are listed as asset checks.
    raw_checks = dom("/assets/raw/transactions?view=checks")
    assert "rows_reconcile_with_load_ledger" in raw_checks and "accepted_values_transactions" in raw_checks
    assert "accepted_values_anomaly_events_severity" in dom("/assets/reports/anomaly_events?view=checks")
