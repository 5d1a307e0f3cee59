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
