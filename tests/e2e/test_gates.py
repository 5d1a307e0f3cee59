"""The data gates on evolving penguin spans made here: a tiny span and NaN halt at the validator,
spans run oldest first with ``--spans``, drift checked on a fresh home, and a halted run fixed
and resumed.

The pipeline is the shipped penguin config reading ``span-{SPAN}/penguins.csv``, without the
serving checks after the Pusher (other tests cover those).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.cli import main
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from tests.e2e.configs import REPO, component, config_variant

pytestmark = pytest.mark.e2e
CSV = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
SERVING_CHECKS = ("InfraValidator", "BulkInferrer")


def penguin_rows() -> list[dict[str, str]]:
    with CSV.open() as handle:
        return list(csv.DictReader(handle))


def write_span(data: Path, span: int, rows: list[dict[str, str]]) -> Path:
    path = data / f"span-{span}" / "penguins.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def resampled(seed: int) -> list[dict[str, str]]:
    """The penguins drawn again with replacement: another day of the same population."""
    rows = penguin_rows()
    picks = np.random.default_rng(seed).integers(0, len(rows), len(rows))
    return [rows[i] for i in picks]


def heavier(rows: list[dict[str, str]], factor: float) -> list[dict[str, str]]:
    """Every body mass scaled: a drifted feed (a new scale, or a new colony)."""
    return [{**row, "body_mass_g": f"{float(row['body_mass_g']) * factor:.1f}"} for row in rows]


def spans_config(directory: Path, data: Path) -> Path:
    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        component(config, "ExampleGen")["params"]["input"] = str(
            data / "span-{SPAN}" / "penguins.csv")
        component(config, "ExampleValidator")["params"]["drift"] = {"body_mass_g": 0.1}

    directory.mkdir(parents=True, exist_ok=True)
    return config_variant(directory, edit)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("LOCKGATE_HOME", str(home))
    yield home


def runs(store: LineageStore) -> dict[str, dict[str, str]]:
    return {run: {e.node_id: e.outcome for e in store.run_executions("penguin", run)}
            for run in store.run_ids("penguin")}


def test_backfill_runs_spans_in_order_and_the_drifted_one_halts(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    write_span(data, 1, resampled(1))
    write_span(data, 2, resampled(2))
    write_span(data, 3, heavier(resampled(3), 1.4))
    config = spans_config(tmp_path / "cfg", data)
    assert main(["run", str(config), "--spans", "1..3", "--run-id", "fill"]) == 1
    out = capsys.readouterr().out
    store = LineageStore(load_config(config).metadata)
    made = runs(store)
    assert sorted(made) == ["fill-span-1", "fill-span-2", "fill-span-3"]
    assert made["fill-span-1"]["pusher"] == "complete"
    assert made["fill-span-2"]["example_validator"] == "complete"
    assert made["fill-span-3"]["example_validator"] == "halted"
    assert "trainer" not in made["fill-span-3"]
    # Span 1 had nothing to compare with, and said so; span 3 was compared with span 2.
    [validation_1] = [e for e in store.run_executions("penguin", "fill-span-1")
                      if e.node_id == "example_validator"]
    assert "DRIFT NOT CHECKED: no earlier span exists" in validation_1.message
    assert "body_mass_g" in out and "stopped at span 3" in out
    # The halt is the drift of body mass, measured against span 2's statistics.
    [validation_3] = [e for e in store.run_executions("penguin", "fill-span-3")
                      if e.node_id == "example_validator"]
    [previous] = store.inputs_of(validation_3.id)["previous_statistics"]
    assert previous.properties["span"] == 2
    assert "body_mass_g (high approximate Jensen-Shannon divergence between current and " \
           "previous" in validation_3.message
    [spans_read] = [[a.properties["span"] for a in store.outputs_of(e.id)["examples"]]
                    for e in store.run_executions("penguin", "fill-span-3")
                    if e.node_id == "example_gen"]
    assert spans_read == [3]


def test_a_fresh_home_computes_the_previous_span_before_checking_drift(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    write_span(data, 1, resampled(1))
    write_span(data, 2, heavier(resampled(2), 1.4))
    config = spans_config(tmp_path / "cfg", data)
    assert main(["run", str(config), "--run-id", "latest"]) == 1  # reads span 2, the latest
    out = capsys.readouterr().out
    made = runs(LineageStore(load_config(config).metadata))
    assert made["latest.span-1"] == {"example_gen": "complete", "statistics_gen": "complete"}
    assert made["latest"]["example_validator"] == "halted"
    assert "for an older span first (run latest.span-1)" in " ".join(out.split())


def test_a_tiny_span_and_nan_halt_at_the_validator(
    home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    rows = penguin_rows()
    write_span(data, 1, rows[::23])  # 15 rows
    config = spans_config(tmp_path / "cfg", data)
    assert main(["run", str(config), "--run-id", "tiny"]) == 1
    store = LineageStore(load_config(config).metadata)
    [validation] = [e for e in store.run_executions("penguin", "tiny")
                    if e.node_id == "example_validator"]
    assert validation.outcome == "halted"
    assert "examples, which is fewer than expected" in validation.message
    assert "min_examples" in validation.message

    broken = [{**row, "body_mass_g": "nan"} if i % 40 == 0 else row
              for i, row in enumerate(rows)]
    write_span(data, 2, broken)
    assert main(["run", str(config), "--run-id", "nan", "--span", "2"]) == 1
    [validation] = [e for e in store.run_executions("penguin", "nan")
                    if e.node_id == "example_validator"]
    assert validation.outcome == "halted"
    nan_rows = sum(1 for i in range(len(rows)) if i % 40 == 0)
    assert "body_mass_g: Float feature has NaN values." in validation.message
    # Each split reports its own count; together they are every NaN row.
    counts = [int(part.split(" of ")[0].split()[-1]) for part in
              validation.message.split("\n") if "values are NaN" in part]
    assert sum(counts) == nan_rows


def test_halt_fix_the_file_then_resume(home: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    rows = penguin_rows()
    path = write_span(data, 1, [{**row, "body_mass_g": "nan"} if i == 5 else row
                                for i, row in enumerate(rows)])
    config = spans_config(tmp_path / "cfg", data)
    assert main(["run", str(config), "--run-id", "fixme"]) == 1
    assert "HALTED at example_validator" in capsys.readouterr().out
    write_span(data, 1, rows)  # the feed is fixed in place
    assert path.read_text().count("nan") == 0
    assert main(["run", str(config), "--resume", "fixme"]) == 0
    store = LineageStore(load_config(config).metadata)
    gens = [e for e in store.run_executions("penguin", "fixme") if e.node_id == "example_gen"]
    assert [e.outcome for e in gens] == ["complete", "complete"]  # the file was read again
    assert {e.node_id: e.outcome for e in store.run_executions("penguin", "fixme")}[
        "pusher"] == "complete"


def test_resume_of_a_bogus_run_exits_2_with_the_runs(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    write_span(data, 1, penguin_rows()[::23])
    config = spans_config(tmp_path / "cfg", data)
    assert main(["run", str(config), "--run-id", "real-one"]) == 1
    capsys.readouterr()
    assert main(["run", str(config), "--resume", "no-such-run"]) == 2
    err = capsys.readouterr().err
    assert "pipeline penguin has no run 'no-such-run' to resume" in err
    assert "real-one" in err
