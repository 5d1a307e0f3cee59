"""The validator's gates for training data, on statistics from real TFDV of data made here:
too few examples, a label with one class only, label drift against the previous span, train/eval
skew, and NaN or infinity in numeric features, counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipelines.component import Artifact
from pipelines.sdk import layout
from tests.components.test_example_validator import (
    PENGUIN_SCHEMA,
    _write_records,
    stats_of,
    validate,
)
from tests.penguin_data import penguin_table


@pytest.fixture(scope="module")
def gate_variants(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    from components.statistics_gen.executor import compute_statistics

    root = tmp_path_factory.mktemp("gates")
    table = penguin_table()
    species = table.column_names.index("species")
    body_mass = table.column_names.index("body_mass_g")
    mass = np.array(table.column("body_mass_g").to_pylist(), dtype=np.float64)
    with_nan = mass.copy()
    with_nan[:7] = np.nan
    with_inf = mass.copy()
    with_inf[3], with_inf[5] = np.inf, -np.inf
    rng = np.random.default_rng(0)
    labels = np.array(table.column("species").to_pylist())
    mostly_gentoo = np.where(rng.random(len(labels)) < 0.6, 2, labels)
    variants = {
        "penguin": table,
        "tiny": table.slice(0, 15),
        "one_class": table.set_column(species, "species",
                                      pa.array([0] * table.num_rows, pa.int64())),
        "label_shift": table.set_column(species, "species", pa.array(mostly_gentoo, pa.int64())),
        "nan": table.set_column(body_mass, "body_mass_g", pa.array(with_nan, pa.float32())),
        "inf": table.set_column(body_mass, "body_mass_g", pa.array(with_inf, pa.float32())),
        # Every penguin 1.5 kg heavier: still inside the schema's domain, but not the same data.
        "heavier": table.set_column(body_mass, "body_mass_g",
                                    pa.array(mass + 1500, pa.float32())),
    }
    examples = Artifact(type="Examples", uri=str(root / "examples"))
    for name, data in variants.items():
        _write_records(examples, name, data)
    out = Artifact(type="ExampleStatistics", uri=str(root / "statistics"))
    compute_statistics({s: layout.examples_files(examples, s) for s in variants}, out,
                       ["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    layout.set_split_names(out, list(variants))
    return out


def fresh(path: Path) -> Path:
    path.mkdir()
    return path


def report(out: Artifact) -> str:
    return (out.path / "report.txt").read_text()


def test_the_penguin_data_passes_every_gate(tmp_path: Path, gate_variants: Artifact) -> None:
    result, _ = validate(tmp_path, stats_of(tmp_path, gate_variants, train="penguin"),
                         label_key="species")
    assert result.outcome == "complete", result.message


def test_too_few_examples_halt(tmp_path: Path, gate_variants: Artifact) -> None:
    result, out = validate(tmp_path, stats_of(tmp_path, gate_variants, train="tiny"))
    assert result.outcome == "halted"
    assert "The dataset has 15 examples, which is fewer than expected." in result.message
    assert "DATASET_LOW_NUM_EXAMPLES" in report(out)
    assert "lower ExampleValidator's min_examples" in report(out)
    # Turned off, the same split passes.
    result, _ = validate(fresh(tmp_path / "off"), stats_of(tmp_path, gate_variants, train="tiny"),
                         min_examples=0)
    assert result.outcome == "complete", result.message


def test_a_label_with_one_class_halts(tmp_path: Path, gate_variants: Artifact) -> None:
    result, out = validate(tmp_path, stats_of(tmp_path, gate_variants, train="one_class"),
                           label_key="species")
    assert result.outcome == "halted"
    assert "train/species: Every one of the 342 examples has the label 0." in result.message
    assert "LOCKGATE_LABEL_ONE_CLASS" in report(out)
    # Without label_key the validator cannot know it is the label.
    result, _ = validate(fresh(tmp_path / "nolabel"),
                         stats_of(tmp_path, gate_variants, train="one_class"))
    assert result.outcome == "complete"


def test_label_drift_against_the_previous_span_halts(
    tmp_path: Path, gate_variants: Artifact
) -> None:
    previous = stats_of(tmp_path, gate_variants, train="penguin")
    shifted = stats_of(tmp_path, gate_variants, train="label_shift")
    # An integer label has numeric statistics, so its drift is TFDV's Jensen-Shannon
    # divergence of the histograms: 60% relabelled as one class measures about 0.096.
    result, out = validate(tmp_path, shifted, previous=previous, label_key="species",
                           label_drift=0.05)
    assert result.outcome == "halted", report(out)
    assert "species" in result.message
    assert "drift species: JENSEN_SHANNON_DIVERGENCE" in report(out)
    same, _ = validate(fresh(tmp_path / "same"), stats_of(tmp_path, gate_variants, train="penguin"),
                       previous=previous, label_key="species", label_drift=0.05)
    assert same.outcome == "complete", same.message


def test_nan_is_counted_and_halts_when_the_schema_disallows_it(
    tmp_path: Path, gate_variants: Artifact
) -> None:
    result, out = validate(tmp_path, stats_of(tmp_path, gate_variants, train="nan"))
    assert result.outcome == "halted"
    assert "train/body_mass_g: Float feature has NaN values. 7 of 342 values are NaN." in (
        result.message)
    # A schema that allows NaN still gets the count, as a warning.
    lenient = PENGUIN_SCHEMA.read_text().replace(
        "min: 1000.0 max: 10000.0 disallow_nan: true", "min: 1000.0 max: 10000.0")
    nan_stats = stats_of(tmp_path, gate_variants, train="nan")
    result, out = validate(fresh(tmp_path / "lenient"), nan_stats, lenient)
    assert result.outcome == "complete", result.message
    assert "[WARNING] body_mass_g: NaN values" in report(out)
    assert "7 of 342 values are NaN." in report(out)


def test_infinity_halts_when_the_schema_disallows_it(
    tmp_path: Path, gate_variants: Artifact
) -> None:
    result, out = validate(tmp_path, stats_of(tmp_path, gate_variants, train="inf"))
    assert result.outcome == "halted"
    assert "Float feature has Inf values." in result.message
    assert "FLOAT_TYPE_HAS_INF" in report(out)
    assert f"2 of {penguin_table().num_rows:,} values are infinite." in report(out)


def test_train_eval_skew_halts_above_its_threshold(
    tmp_path: Path, gate_variants: Artifact
) -> None:
    skewed = stats_of(tmp_path, gate_variants, train="penguin", eval="heavier")
    result, out = validate(tmp_path, skewed, skew={"body_mass_g": 0.1})
    assert result.outcome == "halted", report(out)
    assert "eval/body_mass_g" in result.message
    assert "skew body_mass_g: JENSEN_SHANNON_DIVERGENCE" in report(out)
    assert "SKEW" in report(out)
    assert "Train/eval skew" in (out.path / "report.html").read_text()
    # The same eval split is no anomaly when skew is not asked for, and identical splits pass.
    unchecked, _ = validate(fresh(tmp_path / "unchecked"), skewed)
    assert unchecked.outcome == "complete", unchecked.message
    alike = stats_of(tmp_path, gate_variants, train="penguin", eval="penguin")
    same, out = validate(fresh(tmp_path / "same"), alike, skew={"body_mass_g": 0.1})
    assert same.outcome == "complete", same.message
    assert "skew body_mass_g: JENSEN_SHANNON_DIVERGENCE 0.0000 (threshold 0.1) ok" in report(out)
