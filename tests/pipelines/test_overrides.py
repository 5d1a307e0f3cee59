"""The audited overrides (``lockgate bless``, ``baseline``, ``accept-anomalies``, and the
baseline ``rollback`` sets) through the CLI, on a real SQLite MLMD store.

Bless and baseline use the rollback tests' lineage (Trainer and Evaluator executions recorded
with real SavedModels, the Pusher launched for real). Accept-anomalies runs the real first
four penguin nodes (ExampleGen, StatisticsGen, SchemaGen, ExampleValidator) on a CSV made here.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.component import Artifact
from pipelines.graph import build_pipeline
from pipelines.launcher import launch
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.overrides import OverrideRecord, overrides_of
from pipelines.resolve import latest_blessed_model, resolve_inputs
from pipelines.runner import _still_holds
from tests.e2e.configs import REPO, component, config_variant
from tests.pipelines.test_rollback import PENGUIN, Lineage, saved_models  # noqa: F401

CURATED = REPO / "schemas" / "penguin" / "schema.pbtxt"


@pytest.fixture
def lineage(lockgate_home: Path, saved_models: dict[int, Path]) -> Lineage:  # noqa: F811
    return Lineage(lockgate_home, saved_models)


def override_executions(store: LineageStore) -> list[Any]:
    types = {t.id: t.name for t in store.mlmd.get_execution_types()}
    return [e for e in store.mlmd.get_executions() if types[e.type_id] == "lockgate.Override"]


def baseline_of(lineage: Lineage) -> int | None:
    contexts = lineage.store.contexts("penguin", "probe", "evaluator")
    found = latest_blessed_model(lineage.store, contexts.pipeline)
    return found[0].id if found else None


def assert_audited(store: LineageStore, record: OverrideRecord, kind: str, by: str,
                   reason: str) -> None:
    """Who, when, why and what, on a COMPLETE execution in the pipeline and its own run."""
    assert (record.kind, record.by, record.reason) == (kind, by, reason)
    assert abs((datetime.now().astimezone() - datetime.fromisoformat(record.at))
               .total_seconds()) < 300
    [execution] = store.mlmd.get_executions_by_id([record.execution_id])
    assert execution.last_known_state == store.pb.Execution.COMPLETE
    contexts = {c.name for c in store.mlmd.get_contexts_by_execution(record.execution_id)}
    assert {"penguin", f"penguin.{record.run_id}"} <= contexts
    assert record.run_id.startswith("override-")


# ----- lockgate bless


def test_bless_records_an_override_blessing_and_the_resumed_run_pushes_it(
    lineage: Lineage, capsys: pytest.CaptureFixture[str]
) -> None:
    first = lineage.run("r1", scale=1)
    refused = lineage.run("r2", scale=2, blessed=False)
    store, pipeline = lineage.store, lineage.pipeline
    assert lineage.served() == [1]
    assert _still_holds(store, pipeline, "pusher", "r2")  # resume would keep the skip
    assert baseline_of(lineage) == first.id

    # Refused: no reason, an unknown id, an artifact that is not a Model.
    assert main(["bless", str(PENGUIN), str(refused.id)]) == 2
    assert "--reason is required" in capsys.readouterr().err
    assert main(["bless", str(PENGUIN), "9999", "--reason", "x"]) == 2
    assert "not a Model" in capsys.readouterr().err
    negative = store.outputs_of(_execution_of(store, "r2", "evaluator"))["blessing"][0]
    assert main(["bless", str(PENGUIN), str(negative.id), "--reason", "x"]) == 2
    other = store.contexts("other", "o1", "trainer")  # a Model another pipeline trained
    spec = pipeline.nodes["trainer"].spec
    execution = store.start_execution(spec, "trainer", "o1", other, {})
    [foreign] = store.finish_execution(execution, other, state="COMPLETE", outcome="complete",
                                       outputs={"model": [Artifact("Model", refused.uri)]}
                                       )["model"]
    assert main(["bless", str(PENGUIN), str(foreign.id), "--reason", "x"]) == 2
    assert "not trained by pipeline 'penguin'" in capsys.readouterr().err
    assert override_executions(store) == []

    assert main(["bless", str(PENGUIN), str(refused.id), "--reason", "eval slice too small",
                 "--by", "alice"]) == 0
    assert "resume the run that trained it" in capsys.readouterr().out
    [record] = overrides_of(store, "penguin")
    assert_audited(store, record, "bless", "alice", "eval slice too small")
    assert record.inputs == {"model": [refused.id], "overridden": [negative.id]}
    [blessing] = store.artifacts(record.outputs["blessing"])
    assert blessing.properties["blessed"] == 1 and blessing.properties["override"] == 1
    assert blessing.properties["model_id"] == refused.id
    assert blessing.properties["reason"] == "eval slice too small"
    assert (blessing.path / "BLESSED").is_file()

    # (a) the next Evaluator's baseline, with a note saying why.
    contexts = store.contexts("penguin", "next", "evaluator")
    [baseline] = latest_blessed_model(store, contexts.pipeline)
    assert baseline.id == refused.id
    assert "blessed by override by alice" in baseline.properties["baseline_note"]
    # (b) resuming r2 re-runs its Pusher (its blessing input changed) and pushes the model,
    # even after the Evaluator ran again and refused it again.
    lineage.blessing("r2-again", refused, blessed=False)
    assert not _still_holds(store, pipeline, "pusher", "r2")
    pusher_contexts = store.contexts("penguin", "r2", "pusher")
    inputs = resolve_inputs(store, pusher_contexts, pipeline.nodes["pusher"], "r2",
                            pipeline=pipeline)
    assert [b.id for b in inputs["blessing"]] == [blessing.id]
    pushed = launch(pipeline, "pusher", "r2", store=store)  # what the resume runs
    assert pushed.status == "complete", pushed.message
    assert "blessed by override: alice, eval slice too small" in pushed.message
    assert lineage.served() == [1, 2]

    # Blessing an already blessed model records nothing.
    assert main(["bless", str(PENGUIN), str(first.id), "--reason", "again"]) == 0
    assert "already blessed" in capsys.readouterr().out
    assert len(overrides_of(store, "penguin")) == 1


def _execution_of(store: LineageStore, run_id: str, node_id: str) -> int:
    return next(e.id for e in store.run_executions("penguin", run_id) if e.node_id == node_id)


# ----- lockgate baseline and rollback


def test_baseline_set_and_reset_choose_what_the_next_evaluator_compares_with(
    lineage: Lineage, capsys: pytest.CaptureFixture[str]
) -> None:
    first = lineage.run("r1", scale=1)
    second = lineage.run("r2", scale=2)
    store = lineage.store
    assert baseline_of(lineage) == second.id

    assert main(["baseline", str(PENGUIN), "set", str(first.id)]) == 2
    assert "--reason is required" in capsys.readouterr().err
    assert main(["baseline", str(PENGUIN), "reset", "--reason", "  "]) == 2
    assert main(["baseline", str(PENGUIN), "set", "424242", "--reason", "x"]) == 2
    assert override_executions(store) == []
    assert baseline_of(lineage) == second.id

    assert main(["baseline", str(PENGUIN), "set", str(first.id), "--reason",
                 "r2 was trained on a bad feed", "--by", "bob"]) == 0
    assert baseline_of(lineage) == first.id
    contexts = store.contexts("penguin", "probe", "evaluator")
    note = latest_blessed_model(store, contexts.pipeline)[0].properties["baseline_note"]
    assert note.startswith("baseline set by bob: r2 was trained on a bad feed")
    [chosen] = overrides_of(store, "penguin")
    assert_audited(store, chosen, "baseline-set", "bob", "r2 was trained on a bad feed")
    assert chosen.inputs == {"model": [first.id], "previous_baseline": [second.id]}
    [made] = store.artifacts(chosen.outputs["baseline"])
    assert made.type == "Baseline" and made.properties["model_id"] == first.id

    assert main(["baseline", str(PENGUIN), "reset", "--reason", "feed fixed"]) == 0
    assert baseline_of(lineage) == second.id
    reset = overrides_of(store, "penguin")[-1]
    assert_audited(store, reset, "baseline-reset", reset.by, "feed fixed")
    assert reset.by  # the OS user
    assert reset.inputs == {"previous_baseline": [first.id], "overridden": [made.id]}

    # A baseline holds until a model is blessed after it: then the newest blessing decides.
    assert main(["baseline", str(PENGUIN), "set", str(first.id), "--reason", "again"]) == 0
    assert baseline_of(lineage) == first.id
    third = lineage.run("r3", scale=3)
    assert baseline_of(lineage) == third.id


def test_rollback_sets_the_baseline_unless_told_to_keep_it(
    lineage: Lineage, capsys: pytest.CaptureFixture[str]
) -> None:
    first = lineage.run("r1", scale=1)
    second = lineage.run("r2", scale=2)
    assert main(["rollback", str(PENGUIN), "--keep-baseline"]) == 2  # no reason: refused
    assert "--reason is required" in capsys.readouterr().err
    assert main(["rollback", str(PENGUIN), "--keep-baseline", "--reason", "r2 is slow"]) == 0
    assert baseline_of(lineage) == second.id
    assert overrides_of(lineage.store, "penguin") == []
    [restored] = lineage.store.run_executions(*_newest_rollback_run(lineage))
    [proto] = lineage.store.mlmd.get_executions_by_id([restored.id])
    assert proto.custom_properties["reason"].string_value == "r2 is slow"
    assert proto.custom_properties["by"].string_value

    assert main(["rollback", str(PENGUIN), "--to", "2", "--reason", "r1 is wrong"]) == 0
    assert main(["rollback", str(PENGUIN), "--to", "1", "--by", "fay", "--reason",
                 "2 was wrong too"]) == 0
    assert "next Evaluator compares with model" in capsys.readouterr().out
    assert baseline_of(lineage) == first.id
    record = overrides_of(lineage.store, "penguin")[-1]
    assert record.kind == "baseline-set" and record.inputs["model"] == [first.id]
    assert record.reason.startswith("lockgate rollback to version 1")
    assert record.reason.endswith(": 2 was wrong too") and record.by == "fay"


def _newest_rollback_run(lineage: Lineage) -> tuple[str, str]:
    runs = [r for r in lineage.store.run_ids("penguin") if r.startswith("rollback-")]
    return "penguin", runs[0]


# ----- lockgate accept-anomalies


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def penguins() -> list[dict[str, str]]:
    with (REPO / "examples" / "penguin" / "data" / "penguins_processed.csv").open() as handle:
        return list(csv.DictReader(handle))


def heavy(rows: list[dict[str, str]], every: int = 7) -> list[dict[str, str]]:
    """Some body masses beyond the curated schema's plausible 10 kg: a new colony's scale."""
    return [{**row, "body_mass_g": "12500.0"} if i % every == 0 else row
            for i, row in enumerate(rows)]


def validation_config(directory: Path, data: Path) -> Path:
    def edit(config: dict[str, Any]) -> None:
        config["components"] = config["components"][:4]  # ExampleGen .. ExampleValidator
        component(config, "ExampleGen")["params"]["input"] = str(data)

    directory.mkdir(parents=True, exist_ok=True)
    return config_variant(directory, edit)


def test_accept_anomalies_lets_exactly_those_anomalies_through_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data" / "penguins.csv"
    _write_csv(data, heavy(penguins()))
    config = validation_config(tmp_path / "cfg", data)
    curated = CURATED.read_text()
    assert main(["run", str(config), "--run-id", "heavy"]) == 1
    store = LineageStore(load_config(config).metadata)

    assert main(["accept-anomalies", str(config), "heavy"]) == 2
    assert "--reason is required" in capsys.readouterr().err
    assert main(["accept-anomalies", str(config), "nope", "--reason", "x"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    assert override_executions(store) == []

    assert main(["accept-anomalies", str(config), "heavy", "--reason",
                 "new colony on Biscoe, heavier birds", "--by", "dana"]) == 0
    out = capsys.readouterr().out
    [record] = overrides_of(store, "penguin")
    assert_audited(store, record, "accept-anomalies", "dana",
                   "new colony on Biscoe, heavier birds")
    halted = _execution_of(store, "heavy", "example_validator")
    [anomalies] = store.outputs_of(halted)["anomalies"]
    assert record.inputs == {"anomalies": [anomalies.id]}
    [acceptance] = store.artifacts(record.outputs["acceptance"])
    assert acceptance.properties["for_run"] == "heavy"
    # The proposed schema: TFDV's update widens body_mass_g; the curated file is untouched.
    diff = acceptance.path / "proposed_schema.diff"
    assert str(diff) in out
    text = diff.read_text()
    assert "body_mass_g" in text or "max: 12500" in text, text
    assert "+" in text and CURATED.read_text() == curated

    # Resume: the validator re-runs with the acceptance and passes, and says who and why.
    assert main(["run", str(config), "--resume", "heavy"]) == 0
    [passed] = [e for e in store.run_executions("penguin", "heavy")
                if e.node_id == "example_validator" and e.state == "COMPLETE"]
    assert passed.message.startswith("PASSED")
    assert "accepted by dana" in passed.message
    [report_dir] = store.outputs_of(passed.id)["anomalies"]
    report = (report_dir.path / "report.txt").read_text()
    assert "ACCEPTED" in report and "new colony on Biscoe, heavier birds" in report
    assert (report_dir.path / "proposed_schema.diff").is_file()  # beside the report
    assert CURATED.read_text() == curated

    # The acceptance is for that run only: a new run of the same data halts again.
    assert main(["run", str(config), "--run-id", "fresh"]) == 1
    assert _outcome(store, "fresh", "example_validator") == "halted"


def test_an_anomaly_not_accepted_still_halts_the_resumed_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data" / "penguins.csv"
    rows = heavy(penguins())
    _write_csv(data, rows)
    config = validation_config(tmp_path / "cfg", data)
    assert main(["run", str(config), "--run-id", "heavy"]) == 1
    assert main(["accept-anomalies", str(config), "heavy", "--reason", "heavier birds"]) == 0
    # Before the resume the feed also starts sending an impossible flipper length.
    _write_csv(data, [{**r, "flipper_length_mm": "900.0"} if i == 3 else r
                      for i, r in enumerate(rows)])
    capsys.readouterr()
    assert main(["run", str(config), "--resume", "heavy"]) == 1
    store = LineageStore(load_config(config).metadata)
    halted = [e for e in store.run_executions("penguin", "heavy")
              if e.node_id == "example_validator"]
    assert [e.outcome for e in halted] == ["halted", "halted"]
    assert "flipper_length_mm" in halted[-1].message
    findings = json.loads(Path(
        store.outputs_of(halted[-1].id)["anomalies"][0].path, "findings.json").read_text())
    severity = {f["feature"]: f["severity"] for f in findings}
    assert severity == {"body_mass_g": "warning", "flipper_length_mm": "error"}


def _outcome(store: LineageStore, run_id: str, node_id: str) -> str:
    return [e.outcome for e in store.run_executions("penguin", run_id)
            if e.node_id == node_id][-1]


def test_overrides_of_a_pipeline_never_run_here_is_empty(lockgate_home: Path) -> None:
    store = LineageStore(build_pipeline(load_config(PENGUIN)).config.metadata)
    assert overrides_of(store, "penguin") == []
