"""The `retail-anomaly` command line: bad options and settings end in one line and exit code 2
before any work, help texts say the defaults, and the run summary says only what is true.
No test here runs the pipeline: the commands' workers are replaced by stand-ins."""

import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from orchestration import evaluation, generator, pipeline
from orchestration.cli import main
from orchestration.pipeline import PipelineResult
from orchestration.settings import (
    ENV_ALERT_SINKS,
    ENV_FRESHNESS_HOURS,
    ENV_MAX_QUARANTINE_RATE,
    ENV_PARTITIONS_START,
    PROJECT_DIR,
    SettingsError,
    load_settings,
)


def _refuse(*args, **kwargs):
    raise AssertionError("the command started work it should have refused to start")


@pytest.fixture(autouse=True)
def no_work_and_clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings come from these tests only, and any pipeline, generator or evaluation run fails."""
    for name in list(os.environ):
        if name.startswith("RETAIL_ANOMALY_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(pipeline, "run_pipeline", _refuse)
    monkeypatch.setattr(generator, "generate", _refuse)
    monkeypatch.setattr(evaluation, "evaluate", _refuse)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- settings from the environment -------------------------------------------------------------

@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (ENV_MAX_QUARANTINE_RATE, "abc", "must be a number between 0 and 1"),
        (ENV_MAX_QUARANTINE_RATE, "1.5", "must be a number between 0 and 1"),
        (ENV_MAX_QUARANTINE_RATE, "-0.1", "must be a number between 0 and 1"),
        (ENV_MAX_QUARANTINE_RATE, "nan", "must be a number between 0 and 1"),
        (ENV_FRESHNESS_HOURS, "2d", "must be a number of hours greater than 0"),
        (ENV_FRESHNESS_HOURS, "0", "must be a number of hours greater than 0"),
        (ENV_FRESHNESS_HOURS, "inf", "must be a number of hours greater than 0"),
        (ENV_PARTITIONS_START, "yesterday", "must be a day as YYYY-MM-DD"),
        (ENV_PARTITIONS_START, "2025-3-1", "must be a day as YYYY-MM-DD"),
        (ENV_PARTITIONS_START, "20250301", "must be a day as YYYY-MM-DD"),  # fromisoformat would take it
        (ENV_PARTITIONS_START, "2025-02-30", "must be a day as YYYY-MM-DD"),
        (ENV_PARTITIONS_START, "2999-01-01", "must not be after today"),
    ],
)
def test_load_settings_names_the_variable_and_the_expected_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=re.escape(f"{variable} {expected}")) as error:
        load_settings()
    assert str(error.value).endswith(f"got {value!r}")


@pytest.mark.parametrize(
    ("variable", "accepted", "refused"),
    [
        # 0 quarantined rows allowed is a real choice, not "unset"
        (ENV_MAX_QUARANTINE_RATE, ["0", "1", "0.2"], ["-0.01", "1.01"]),
        (ENV_FRESHNESS_HOURS, ["0.5", "48"], ["0", "-1"]),
        (ENV_PARTITIONS_START, ["2025-03-01", "today"], ["tomorrow"]),
    ],
)
def test_load_settings_accepts_up_to_the_edge_and_refuses_beyond(
    monkeypatch: pytest.MonkeyPatch, variable: str, accepted: list[str], refused: list[str]
) -> None:
    today = datetime.now(UTC).date()
    days = {"today": today.isoformat(), "tomorrow": (today + timedelta(days=1)).isoformat()}
    defaults = load_settings()
    # .env.example leaves variables empty: that must keep meaning "the default"
    monkeypatch.setenv(variable, "")
    assert load_settings() == defaults
    for value in accepted:
        monkeypatch.setenv(variable, days.get(value, value))
        load_settings()
    for value in refused:
        monkeypatch.setenv(variable, days.get(value, value))
        with pytest.raises(SettingsError, match=variable):
            load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "command", "message"),
    [
        (ENV_MAX_QUARANTINE_RATE, "abc", ["run"], "must be a number between 0 and 1, got 'abc'"),
        (ENV_FRESHNESS_HOURS, "2d", ["run"], "must be a number of hours greater than 0, e.g. 48, got '2d'"),
        (
            ENV_PARTITIONS_START, "yesterday", ["backfill", "--from", "2026-11-10"],
            "must be a day as YYYY-MM-DD, got 'yesterday'",
        ),
        (ENV_MAX_QUARANTINE_RATE, "abc", ["evaluate"], "must be a number between 0 and 1, got 'abc'"),
    ],
)
def test_a_bad_setting_is_one_error_line_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    tmp_path: Path,
    variable: str,
    value: str,
    command: list[str],
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    if command[0] == "evaluate":
        paths = ["--work-dir", str(tmp_path)]
    else:  # an existing landing folder: the refusal must not depend on a missing one
        paths = ["--data-dir", str(tmp_path), "--landing", str(tmp_path)]
    assert main([*command, *paths]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {variable} {message}\n"
    assert captured.out == ""


# --- options ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("argv", "option", "message"),
    [
        (["generate", "--out", "x", "--end", "2026/11/01"], "--end", "expected a day as YYYY-MM-DD, got '2026/11/01'"),
        (["generate", "--out", "x", "--end", "2026-02-30"], "--end", "'2026-02-30' is not a day of the calendar"),
        (["evaluate", "--end", "2026/1/1"], "--end", "expected a day as YYYY-MM-DD, got '2026/1/1'"),
        (["evaluate", "--seeds", "a,b"], "--seeds", "expected comma-separated whole numbers from 0"),
        (["evaluate", "--seeds", "505,"], "--seeds", "expected comma-separated whole numbers from 0"),
        (["evaluate", "--seeds", "-1"], "--seeds", "expected comma-separated whole numbers from 0"),
        (["backfill", "--from", "2026/11/10"], "--from", "expected a day as YYYY-MM-DD, got '2026/11/10'"),
        (["backfill", "--from", "10-11-2026"], "--from", "expected a day as YYYY-MM-DD, got '10-11-2026'"),
        (["backfill", "--from", "2026-11-1"], "--from", "expected a day as YYYY-MM-DD, got '2026-11-1'"),
        (["backfill", "--from", "2026-11-10", "--to", "2026/11/20"], "--to", "expected a day as YYYY-MM-DD"),
    ],
)
def test_a_malformed_day_or_seed_list_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture, argv: list[str], option: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: {message}" in err
    # a wrong format is not mistaken for a day outside the partitions
    assert "not a daily partition" not in err and "Traceback" not in err


def test_generate_hands_end_to_the_generator_as_a_day(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    monkeypatch.setattr(generator, "generate", lambda out, **kwargs: calls.append(kwargs) or "summary")
    with pytest.raises(SystemExit):
        main(["generate", "--out", str(tmp_path), "--end", "2026/11/01"])
    assert main(["generate", "--out", str(tmp_path), "--end", "2026-11-01"]) == 0
    assert main(["generate", "--out", str(tmp_path)]) == 0
    assert [call["end_date"] for call in calls] == [date(2026, 11, 1), None]


@pytest.mark.parametrize(
    ("command", "option", "default"),
    [
        ("generate", "--days", "90"),
        ("generate", "--seed", "7"),
        ("generate", "--scale", "1.0"),
        ("evaluate", "--seeds", "505,606"),
        ("evaluate", "--days", "180"),
        ("evaluate", "--scale", "1.0"),
        ("evaluate", "--work-dir", "data/evaluation"),
    ],
)
def test_help_explains_each_option_and_its_default(
    capsys: pytest.CaptureFixture, command: str, option: str, default: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = _one_line(capsys.readouterr().out)
    # the option, its metavar, a help text of its own (not the next option) and the default
    assert re.search(rf"{option} [A-Z_]+ (?:(?! --)[^(])+\(default: {re.escape(default)}[,)]", help_text), help_text


@pytest.mark.parametrize("command", ["run", "backfill"])
def test_help_names_the_real_default_data_dir(capsys: pytest.CaptureFixture, command: str) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = _one_line(capsys.readouterr().out)
    # <project>/data whatever the current folder, not ./data
    assert f"default {PROJECT_DIR / 'data'}" in help_text
    assert "./data" not in help_text


def test_env_example_shows_the_defaults_from_any_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Exporting .env.example as it is changes nothing, even from outside the project."""
    monkeypatch.chdir(tmp_path)
    defaults = load_settings()
    for line in (PROJECT_DIR / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    assert load_settings() == defaults


# --- the run summary ----------------------------------------------------------------------------

def _summary(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    data_dir: Path,
    warnings: tuple[str, ...] = (),
    loads: dict[str, dict] | None = None,
) -> list[str]:
    """The lines `run` prints after a successful run that sent no alert (standard output, then
    standard error)."""

    def succeed(settings, **kwargs) -> PipelineResult:
        print("12:00:00  1 of 212 START sql table model staging.stg_email__events")  # as dbt does
        metadata = {"alerts/alert_deliveries": {"sent": 0, "failed": 0}, **(loads or {})}
        return PipelineResult(success=True, settings=settings, asset_metadata=metadata, warnings=list(warnings))

    monkeypatch.setattr(pipeline, "run_pipeline", succeed)
    landing = data_dir / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    assert main(["run", "--data-dir", str(data_dir), "--landing", str(landing)]) == 0
    printed = capsys.readouterr()
    return printed.out.splitlines() + printed.err.splitlines()


def test_run_keeps_dbts_output_in_the_run_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    lines = _summary(monkeypatch, capsys, tmp_path)
    assert not any("START sql table model" in line for line in lines)
    run_log = tmp_path / "logs" / "last_run.log"
    assert "START sql table model staging.stg_email__events" in run_log.read_text()
    assert f"Run log:     {run_log} (dbt's output)" in lines


def test_run_refuses_an_alert_sinks_file_it_cannot_use_before_any_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv(ENV_ALERT_SINKS, str(tmp_path / "missing.yml"))
    # the autouse stand-in for run_pipeline fails the test if the run starts
    assert main(["run", "--data-dir", str(tmp_path), "--landing", str(landing)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: alert sinks") and "missing.yml" in error


@pytest.mark.parametrize("option", [["--days", "7"], ["--scale", "0"]])
def test_evaluate_refuses_demo_options_before_any_work(capsys: pytest.CaptureFixture, option: list[str]) -> None:
    # the autouse stand-in for evaluate fails the test if the scorecard starts
    assert main(["evaluate", *option]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_run_names_the_files_it_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    loads = {"raw/transactions": {"new_rows": 3, "quarantined_rows": 0, "files_ignored": ["transactions/orders.xlsx"]}}
    assert (
        "Loaded raw/transactions: 3 new rows, 0 quarantined; ignored 1 file(s) of no landing format: "
        "transactions/orders.xlsx"
    ) in _summary(monkeypatch, capsys, tmp_path, loads=loads)


def test_run_prints_the_warnings_it_went_on_after(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    stale = "check raw/email/source_is_fresh failed: newest event_ts: no rows; allowed age 48 h"
    assert f"warning: {stale}" in _summary(monkeypatch, capsys, tmp_path, warnings=(stale,))


def test_run_names_the_alerts_file_only_once_it_exists(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    alerts_file = tmp_path / "alerts" / "alerts.jsonl"
    lines = _summary(monkeypatch, capsys, tmp_path)
    assert f"Alerts:      none written yet (they would go to {alerts_file})" in lines
    assert f"Alerts:      {alerts_file}" not in lines

    alerts_file.parent.mkdir()
    alerts_file.write_text('{"incident_id": "i1"}\n')
    assert f"Alerts:      {alerts_file}" in _summary(monkeypatch, capsys, tmp_path)


def test_run_names_the_configured_alerts_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    configured = tmp_path / "elsewhere.jsonl"
    configured.write_text("")
    sinks = tmp_path / "sinks.yml"
    sinks.write_text(f"sinks:\n  - type: jsonl\n    path: {configured}\n")
    monkeypatch.setenv(ENV_ALERT_SINKS, str(sinks))
    lines = _summary(monkeypatch, capsys, tmp_path / "data")
    assert [line for line in lines if line.startswith("Alerts:  ")] == [f"Alerts:      {configured}"]

    # only a webhook: there is no file to name
    sinks.write_text("sinks:\n  - type: webhook\n    url: http://127.0.0.1:9/\n")
    lines = _summary(monkeypatch, capsys, tmp_path / "data")
    assert [line for line in lines if line.startswith("Alerts:  ")] == [
        "Alerts:      no JSON-lines file configured (see RETAIL_ANOMALY_ALERT_SINKS)"
    ]
