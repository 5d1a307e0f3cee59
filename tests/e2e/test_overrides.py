"""``lockgate accept-anomalies`` on the real penguin pipeline: a span with out-of-domain body
masses halts at the ExampleValidator, a data engineer accepts the anomalies with a reason, and
``--resume`` trains, evaluates and pushes. The schema change is only proposed, as a diff.

The config is the shipped penguin one without the serving checks after the Pusher (as
tests/e2e/test_gates.py), reading a CSV made here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.overrides import overrides_of
from tests.e2e.configs import REPO, component, config_variant
from tests.e2e.test_gates import SERVING_CHECKS, penguin_rows, write_span

pytestmark = pytest.mark.e2e
CURATED = REPO / "schemas" / "penguin" / "schema.pbtxt"


def overweight(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every fifth bird weighed beyond the curated 10 kg bound: out of the schema's domain."""
    return [{**row, "body_mass_g": "11000.0"} if i % 5 == 0 else row
            for i, row in enumerate(rows)]


def test_a_halted_run_continues_after_its_anomalies_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCKGATE_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    write_span(data, 1, overweight(penguin_rows()))

    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        component(config, "ExampleGen")["params"]["input"] = str(
            data / "span-{SPAN}" / "penguins.csv")

    (tmp_path / "cfg").mkdir()
    config = config_variant(tmp_path / "cfg", edit)
    curated = CURATED.read_text()

    assert main(["run", str(config), "--run-id", "heavy"]) == 1
    store = LineageStore(load_config(config).metadata)
    outcomes = {e.node_id: e.outcome for e in store.run_executions("penguin", "heavy")}
    assert outcomes["example_validator"] == "halted" and "trainer" not in outcomes

    assert main(["accept-anomalies", str(config), "heavy"]) == 2  # no reason
    assert main(["accept-anomalies", str(config), "heavy", "--by", "dana", "--reason",
                 "scales recalibrated; heavier birds are real"]) == 0
    out = capsys.readouterr().out
    diff = Path(out.split("(not applied): ")[1].split()[0])
    assert diff.is_file() and "+    max: 11000.0" in diff.read_text()
    assert CURATED.read_text() == curated

    assert main(["run", str(config), "--resume", "heavy"]) == 0
    outcomes = {e.node_id: e.outcome for e in store.run_executions("penguin", "heavy")}
    assert outcomes["example_validator"] == "complete"
    assert outcomes["trainer"] == "complete" and outcomes["pusher"] in ("complete", "skipped")
    [validation] = [e for e in store.run_executions("penguin", "heavy")
                    if e.node_id == "example_validator" and e.outcome == "complete"]
    [anomalies] = store.outputs_of(validation.id)["anomalies"]
    report = (anomalies.path / "report.txt").read_text()
    assert "ACCEPTED" in report and "accepted by dana" in report
    assert "scales recalibrated; heavier birds are real" in report
    assert (anomalies.path / "proposed_schema.diff").read_text() == diff.read_text()
    [record] = overrides_of(store, "penguin")
    assert (record.kind, record.by) == ("accept-anomalies", "dana")
    assert CURATED.read_text() == curated


def test_a_model_blessed_by_override_is_pushed_when_its_run_is_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped accuracy bound refuses the model; ``lockgate bless`` and ``--resume``
    push it, and the re-run Evaluator names the override as its baseline."""
    monkeypatch.setenv("LOCKGATE_HOME", str(tmp_path / "home"))

    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        metric = component(config, "Evaluator")["params"]["metrics"][0]
        metric["threshold"] = {"upper": 0.2}  # a typo for lower: 0.2; every model fails it

    (tmp_path / "cfg").mkdir()
    config = config_variant(tmp_path / "cfg", edit)
    assert main(["run", str(config), "--run-id", "strict"]) == 0
    store = LineageStore(load_config(config).metadata)
    outcomes = {e.node_id: e.outcome for e in store.run_executions("penguin", "strict")}
    assert outcomes["pusher"] == "skipped"
    [model] = store.outputs_of(next(e.id for e in store.run_executions("penguin", "strict")
                                    if e.node_id == "trainer"))["model"]

    assert main(["bless", str(config), str(model.id), "--by", "erin", "--reason",
                 "accuracy bound is a typo; lower 0.2 was meant"]) == 0
    capsys.readouterr()
    assert main(["run", str(config), "--resume", "strict"]) == 0
    executions = store.run_executions("penguin", "strict")
    [pushed] = [e for e in executions if e.node_id == "pusher" and e.outcome == "complete"]
    assert pushed.message.startswith("pushed as version 1")
    assert "blessed by override: erin, accuracy bound is a typo" in pushed.message
    evaluations = [e for e in executions if e.node_id == "evaluator"]
    assert "blessed by override by erin" in evaluations[-1].message
    [record] = overrides_of(store, "penguin")
    assert record.kind == "bless" and record.inputs["model"] == [model.id]

    # Every override shows in the run's report index and in the serving model's lineage.
    capsys.readouterr()
    assert main(["report", "strict", "--pipeline", str(config)]) == 0
    index = Path(capsys.readouterr().out.strip()).read_text()
    overrides = index[index.index('<table id="overrides">'):]
    assert "erin" in overrides and "accuracy bound is a typo; lower 0.2 was meant" in overrides
    assert main(["lineage", "serving", str(config)]) == 0
    assert "accuracy bound is a typo" in capsys.readouterr().out

    # The baseline overrides: refused without a reason; recorded with who and why.
    assert main(["bless", str(config), str(model.id)]) == 2
    assert main(["baseline", str(config), "set", str(model.id)]) == 2
    assert main(["baseline", str(config), "set", str(model.id), "--by", "erin", "--reason",
                 "compare with the model we reviewed"]) == 0
    assert main(["baseline", str(config), "reset", "--by", "erin", "--reason",
                 "back to the latest blessed model"]) == 0
    records = overrides_of(store, "penguin")
    assert [(r.kind, r.by, r.reason) for r in records[1:]] == [
        ("baseline-set", "erin", "compare with the model we reviewed"),
        ("baseline-reset", "erin", "back to the latest blessed model")]
