"""The Evaluator's reference gate end to end: corrupted labels in a new span never get a model
pushed, even with the ExampleValidator's label gates off.

One home for the module: span 1 (the clean penguins) is blessed and pushed as version 1; spans
2, 3 and 4 are the same population with corrupted labels (every row one class, two classes
swapped, 20% relabelled at random). On its own eval split each corrupted span makes the
serving model look bad; on the reference (span 1's eval split, which model 1 was blessed on)
the candidate is the one that looks bad, and the baseline's two scores disagree.
"""

from __future__ import annotations

import csv
import json
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
ACCURACY = "sparse_categorical_accuracy"
LABEL = "species"


def penguin_rows() -> list[dict[str, str]]:
    with CSV.open() as handle:
        return list(csv.DictReader(handle))


def resampled(seed: int) -> list[dict[str, str]]:
    """The penguins drawn again with replacement: another day of the same population."""
    rows = penguin_rows()
    picks = np.random.default_rng(seed).integers(0, len(rows), len(rows))
    return [rows[i] for i in picks]


def one_class(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**row, LABEL: "0"} for row in rows]


def swapped(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Adelie (0) and Gentoo (2) trade labels: the feed's code table was reversed."""
    swap = {"0": "2", "2": "0", "1": "1"}
    return [{**row, LABEL: swap[row[LABEL]]} for row in rows]


def relabelled(rows: list[dict[str, str]], fraction: float, seed: int) -> list[dict[str, str]]:
    """``fraction`` of the rows given another class at random."""
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        if rng.random() < fraction:
            row = {**row, LABEL: str((int(row[LABEL]) + int(rng.integers(1, 3))) % 3)}
        out.append(row)
    return out


def write_span(data: Path, span: int, rows: list[dict[str, str]]) -> None:
    path = data / f"span-{span}" / "penguins.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


CORRUPTIONS = {
    2: ("one_class", lambda: one_class(resampled(2))),
    3: ("swapped", lambda: swapped(resampled(3))),
    4: ("relabelled_20pct", lambda: relabelled(resampled(4), 0.2, seed=4)),
}


@pytest.fixture(scope="module")
def lockgate_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One home for the module (replaces conftest's per-test one): span 1's run is every
    later run's baseline."""
    home = tmp_path_factory.mktemp("reference-gate-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HOME", str(home))
        patch.delenv("LOCKGATE_MLMD_KIND", raising=False)
        yield home


@pytest.fixture(scope="module")
def pipeline(
    lockgate_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(config, home): the shipped penguin config on spans, label gates and serving checks off,
    with span 1 already run, blessed and pushed."""
    root = tmp_path_factory.mktemp("reference-gate")
    data, home = root / "data", lockgate_home
    write_span(data, 1, penguin_rows())
    for span, (_, make) in CORRUPTIONS.items():
        write_span(data, span, make())

    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        component(config, "ExampleGen")["params"]["input"] = str(
            data / "span-{SPAN}" / "penguins.csv")
        validator = component(config, "ExampleValidator")["params"]
        validator.pop("label_key"), validator.pop("label_drift")  # the Evaluator alone

    config = config_variant(root, edit)
    assert main(["run", str(config), "--span", "1", "--run-id", "clean"]) == 0
    return config, home


def serving_versions(home: Path) -> list[str]:
    base = home / "serving" / "penguin"
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def node_executions(store: LineageStore, run_id: str) -> dict[str, Any]:
    return {e.node_id: e for e in store.run_executions("penguin", run_id)}


def test_span_1_is_blessed_on_its_own_and_becomes_the_reference(
    pipeline: tuple[Path, Path]
) -> None:
    config, home = pipeline
    store = LineageStore(load_config(config).metadata)
    clean = node_executions(store, "clean")
    assert clean["pusher"].outcome == "complete" and serving_versions(home) == ["1"]
    # No baseline on the first run: value thresholds only, no reference judged.
    assert "REFERENCE NOT CHECKED" not in clean["evaluator"].message
    [blessing] = store.outputs_of(clean["evaluator"].id)["blessing"]
    record = json.loads(Path(blessing.uri, "blessing.json").read_text())
    assert record["judgements"]["reference"] == {
        "checked": False, "reason": "no baseline: value thresholds on the eval split alone"}


@pytest.mark.parametrize("span", sorted(CORRUPTIONS), ids=[c[0] for c in CORRUPTIONS.values()])
def test_corrupted_labels_are_not_pushed(pipeline: tuple[Path, Path], span: int) -> None:
    config, home = pipeline
    name = CORRUPTIONS[span][0]
    assert main(["run", str(config), "--span", str(span), "--run-id", name]) == 0
    store = LineageStore(load_config(config).metadata)
    run = node_executions(store, name)
    assert run["example_validator"].outcome == "complete"  # its label gates are off
    assert run["pusher"].outcome == "skipped"
    assert serving_versions(home) == ["1"]

    # The reference is span 1's eval split, which the serving model was blessed on.
    clean = node_executions(store, "clean")
    [span_1_examples] = store.outputs_of(clean["example_gen"].id)["examples"]
    [served] = store.outputs_of(clean["trainer"].id)["model"]
    [blessing] = store.outputs_of(run["evaluator"].id)["blessing"]
    assert blessing.properties["blessed"] == 0
    assert blessing.properties["baseline_model_id"] == served.id
    assert blessing.properties["reference_examples_id"] == span_1_examples.id
    assert blessing.properties["labels_agree"] == 0
    record = json.loads(Path(blessing.uri, "blessing.json").read_text())
    judgements = record["judgements"]
    reference = judgements["reference"]
    assert reference["checked"] and reference["examples_id"] == span_1_examples.id
    assert f"Examples {span_1_examples.id}, span 1" in reference["data"]

    # The serving model really is good on the reference and worse on the corrupted split.
    on_ref = reference["metrics"][ACCURACY]
    assert on_ref["baseline"] >= 0.9
    agreement = judgements["agreement"]["metrics"][ACCURACY]
    assert agreement["baseline_on_reference"] == pytest.approx(on_ref["baseline"])
    assert agreement["difference"] < -0.1 and judgements["agreement"]["agree"] is False
    evaluation_summary = json.loads(
        Path(store.outputs_of(run["evaluator"].id)["evaluation"][0].uri, "summary.json")
        .read_text())["slices"]["overall"][ACCURACY]
    assert agreement["baseline_on_eval"] == pytest.approx(evaluation_summary["baseline"])

    # The findings name the reference numbers; the disagreement comes first.
    failures = record["failures"]
    assert failures[0]["kind"] == "disagreement"
    assert failures[0]["value"] == pytest.approx(agreement["baseline_on_eval"])
    assert failures[0]["reference_value"] == pytest.approx(on_ref["baseline"])
    message = run["evaluator"].message
    assert message.startswith("not blessed: the new span's labels disagree with the reference")
    assert f"{on_ref['baseline']:.4g} on the reference" in message
    assert f"{agreement['baseline_on_eval']:.4g} on the candidate's eval split" in message
    assert "disagree with the reference" in run["pusher"].message
    if name != "relabelled_20pct":
        # A model trained on these labels is much worse than the baseline on the reference:
        # the change threshold (and the value threshold) fail there too.
        assert on_ref["value"] < 0.7
        assert judgements["reference"]["blessed"] is False
        kinds = {(f["kind"], f.get("reference", "") != "") for f in failures}
        assert ("change", True) in kinds and ("lower", True) in kinds
        change = (f"on the reference ({reference['data']}): {ACCURACY} "
                  f"{on_ref['value']:.4g} vs baseline {on_ref['baseline']:.4g}: change ")
        assert any(f["message"].startswith(change) for f in failures)
