"""Continuous training on dated penguin spans made here: one run per day with ``--date``, a
window of the latest three days, ``min_spans: 2`` skipping training on the first day, each day
reading only its new span, and each model's lineage naming exactly the spans of its window."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.sdk import span_of_date
from tests.e2e.configs import component, config_variant
from tests.e2e.test_gates import SERVING_CHECKS, resampled, write_span

pytestmark = pytest.mark.e2e
FIRST = date(2026, 12, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(4)]


def dated_config(directory: Path, data: Path) -> Path:
    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        gen = component(config, "ExampleGen")["params"]
        gen["input"] = str(data / "day={YYYY}-{MM}-{DD}" / "penguins.csv")
        gen["spans"] = {"latest": 3, "min_spans": 2}
        evaluator = component(config, "Evaluator")["params"]
        evaluator["metrics"][0]["threshold"]["change"]["absolute"] = -1.0

    directory.mkdir(parents=True, exist_ok=True)
    return config_variant(directory, edit)


def test_daily_runs_over_a_window_read_only_the_new_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCKGATE_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    for i, day in enumerate(DAYS):
        write_span(data, 0, resampled(i)).parent.rename(data / f"day={day.isoformat()}")
    config = dated_config(tmp_path / "cfg", data)
    store = LineageStore(load_config(config).metadata)

    outcomes = {}
    for day in DAYS:
        assert main(["run", str(config), "--date", day.isoformat(), "--run-id",
                     f"d{day.day}"]) == 0
        outcomes[day] = {e.node_id: e.outcome for e in store.run_executions("penguin",
                                                                            f"d{day.day}")}
    out = capsys.readouterr().out

    # Day 1: the data is ingested and validated, and training waits, visibly.
    first = outcomes[DAYS[0]]
    assert first["example_validator"] == "complete" and first["transform"] == "skipped"
    assert "trainer" not in first and "pusher" not in first
    assert "fewer than min_spans 2" in out and "downstream of a skipped node" in out
    # Each later day reads its own span only: every other span of its window is reused.
    read = [e for run in store.run_ids("penguin") for e in store.run_executions("penguin", run)
            if e.node_id == "example_gen" and e.outcome == "complete"]
    assert sorted(store.outputs_of(e.id)["examples"][0].properties["span"] for e in read) == [
        span_of_date(day) for day in DAYS]
    for day, expected in ((DAYS[1], DAYS[:2]), (DAYS[2], DAYS[:3]), (DAYS[3], DAYS[1:])):
        assert outcomes[day]["pusher"] == "complete", outcomes[day]
        [transform] = [e for e in store.run_executions("penguin", f"d{day.day}")
                       if e.node_id == "transform"]
        spans = [a.properties["span"] for a in store.inputs_of(transform.id)["examples"]]
        assert spans == [span_of_date(d) for d in expected]

    # The serving model's lineage names exactly its window's spans and their files.
    capsys.readouterr()
    assert main(["lineage", "serving", str(config), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(d["span"] for d in found["data"]) == [span_of_date(d) for d in DAYS[1:]]
    assert {Path(f["path"]).parent.name for d in found["data"] for f in d["files"]} == {
        f"day={d.isoformat()}" for d in DAYS[1:]}


PUPDATES_FIRST = date(2026, 11, 1)
PUPDATES_DAYS = [PUPDATES_FIRST + timedelta(days=i) for i in range(10)]


def pupdates_window_config(directory: Path, data: Path) -> Path:
    """The shipped pupdates config on dated spans, a 7-day window, training from 3 days on."""
    def edit(config: dict[str, Any]) -> None:
        gen = component(config, "ExampleGen")["params"]
        gen["input"] = str(data / "day={YYYY}-{MM}-{DD}" / "posts.csv")
        gen["spans"] = {"latest": 7, "min_spans": 3}
        component(config, "Trainer")["params"]["train_steps"] = 100
        # At 200 eval rows a day, heavy-tailed likes move a model's mean absolute error by tens
        # from one day to the next: no bound on it alone, and no reference agreement check.
        evaluator = component(config, "Evaluator")["params"]
        evaluator["reference"] = {"tolerance": None}
        del evaluator["metrics"][0]["threshold"]["upper"]

    directory.mkdir(parents=True, exist_ok=True)
    return config_variant(directory, edit, source="pupdates")


def test_ten_pupdates_days_over_a_seven_day_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCKGATE_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    assert main(["datagen", "pupdates", "--rows", "600", "--start-date",
                 PUPDATES_FIRST.isoformat(), "--days", "10", "--out", str(data)]) == 0
    config = pupdates_window_config(tmp_path / "cfg", data)
    store = LineageStore(load_config(config).metadata)
    span = {day: span_of_date(day) for day in PUPDATES_DAYS}

    outputs: dict[date, str] = {}
    for day in PUPDATES_DAYS:
        assert main(["run", str(config), "--date", day.isoformat(), "--run-id",
                     f"d{day.day}"]) == 0
        outputs[day] = capsys.readouterr().out

    def executions(day: date) -> list[Any]:
        """The day's run and the ``RUN.span-N`` runs it made first for older spans."""
        runs = [r for r in store.run_ids("pupdates")
                if r == f"d{day.day}" or r.startswith(f"d{day.day}.")]
        return [e for run in runs for e in store.run_executions("pupdates", run)]

    for i, day in enumerate(PUPDATES_DAYS):
        ran = executions(day)
        # ExampleGen and StatisticsGen read the new span only; every older one is reused.
        for node in ("example_gen", "statistics_gen"):
            read = [e for e in ran if e.node_id == node and e.outcome == "complete"]
            port = "examples" if node == "example_gen" else "statistics"
            assert [store.outputs_of(e.id)[port][0].properties["span"] for e in read] == [
                span[day]], (day, node)
        nodes = {e.node_id: e.outcome for e in ran if e.run_id == f"d{day.day}"}
        window = PUPDATES_DAYS[max(0, i - 6):i + 1]
        if len(window) < 3:  # days 1 and 2: training is skipped, visibly
            assert nodes["transform"] == "skipped" and "trainer" not in nodes, nodes
            assert "fewer than min_spans 3" in outputs[day]
            continue
        # Each model was trained on exactly its window's spans, oldest first.
        [trainer] = [e for e in ran if e.node_id == "trainer"]
        assert trainer.outcome == "complete"
        transformed = store.inputs_of(trainer.id)["examples"][0]
        [transform] = [e for e in ran if e.node_id == "transform"]
        assert store.outputs_of(transform.id)["transformed_examples"][0].id == transformed.id
        assert [a.properties["span"] for a in store.inputs_of(transform.id)["examples"]] == [
            span[d] for d in window]
        assert json.loads(transformed.properties["spans"]) == [span[d] for d in window]

    # What serves was trained on a window of at most seven spans, each with its file.
    assert main(["lineage", "serving", str(config), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    served = sorted(d["span"] for d in found["data"])
    assert 3 <= len(served) <= 7 and served == [span[d] for d in PUPDATES_DAYS
                                                  if span[d] in served]
    assert all(len(d["files"]) == 1 and Path(d["files"][0]["path"]).name == "posts.csv"
               for d in found["data"])
    # A warm-started model names the model it started from, without taking on its spans.
    model = store.mlmd.get_artifacts_by_id([found["model"]["id"]])[0]
    [trainer] = [e for e in store.mlmd.get_events_by_artifact_ids([model.id])
                 if e.type == e.OUTPUT]
    base = store.inputs_of(trainer.execution_id).get("base_model", [])
    assert [b["id"] for b in found["warm_started_from"]] == [b.id for b in base]
    assert base, "the served model was warm-started from an earlier blessed one"
