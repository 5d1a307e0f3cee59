"""ExampleValidator executor against real TFDV: the penguin data and broken variants of it
against the curated schema, severity thresholds, drift against a previous span, and the
offline report.

Statistics of every variant come from one StatisticsGen Beam pipeline (one split per variant),
then each test validates the variants it needs.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipelines.component import Artifact, ExecutorResult
from pipelines.errors import ConfigError
from pipelines.sdk import layout
from tests.components.test_statistics_gen import Row, write_split
from tests.helpers import REPO, executor_context
from tests.penguin_data import penguin_table, serialized_examples

PENGUIN_SCHEMA = REPO / "schemas" / "penguin" / "schema.pbtxt"
DRIFT_SCHEMA = (
    'feature { name: "colour" type: BYTES presence { min_fraction: 1 } }\n'
    'feature { name: "size" type: FLOAT presence { min_fraction: 1 } }\n'
)


def _write_records(examples: Artifact, split: str, table: pa.Table) -> None:
    import tensorflow as tf

    target = layout.split_dir(examples, split)
    target.mkdir(parents=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(target / "data-00000.tfrecord.gz"), options) as writer:
        for record in serialized_examples(table):
            writer.write(record)


def _drift_rows(n: int, red_share: float, size_shift: float, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    reds = int(n * red_share)
    return [
        {"colour": "red" if i < reds else "blue", "size": float(rng.normal(size_shift, 1.0))}
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """An ExampleStatistics artifact with one split per data variant."""
    from components.statistics_gen.executor import compute_statistics

    root = tmp_path_factory.mktemp("variants")
    table = penguin_table()
    flipper = table.column("flipper_length_mm").to_pylist()
    as_text = pa.array(
        [b"tall" if i == 10 else f"{v:g}".encode() for i, v in enumerate(flipper)], pa.binary()
    )
    examples = Artifact(type="Examples", uri=str(root / "examples"))
    _write_records(examples, "penguin", table)
    _write_records(examples, "dropped", table.drop(["body_mass_g"]))
    _write_records(examples, "strings", table.set_column(
        table.column_names.index("flipper_length_mm"), "flipper_length_mm", as_text))
    _write_records(examples, "newcol", table.append_column(
        "colour", pa.array([b"red"] * table.num_rows, pa.binary())))
    write_split(examples, "base", _drift_rows(400, 0.5, 0.0, seed=1))
    write_split(examples, "same", _drift_rows(400, 0.52, 0.0, seed=2))
    write_split(examples, "shifted", _drift_rows(400, 0.2, 3.0, seed=3))
    splits = ["penguin", "dropped", "strings", "newcol", "base", "same", "shifted"]
    out = Artifact(type="ExampleStatistics", uri=str(root / "statistics"))
    compute_statistics(
        {s: layout.examples_files(examples, s) for s in splits}, out,
        ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )
    layout.set_split_names(out, splits)
    return out


def stats_of(root: Path, variants: Artifact, **splits: str) -> Artifact:
    """A statistics artifact whose split ``name`` holds the statistics of variant ``v``."""
    out = Artifact(type="ExampleStatistics", uri=str(root / f"stats-{len(list(root.iterdir()))}"))
    for split, variant in splits.items():
        shutil.copytree(layout.split_dir(variants, variant), layout.split_dir(out, split))
    layout.set_split_names(out, list(splits))
    return out


def schema_artifact(root: Path, text: str) -> Artifact:
    schema = Artifact(type="Schema", uri=str(root / "schema"))
    schema.path.mkdir(exist_ok=True)
    (schema.path / layout.SCHEMA_FILE).write_text(text)
    return schema


def validate(
    tmp_path: Path,
    statistics: Artifact,
    schema_text: str | None = None,
    previous: Artifact | None = None,
    **params: object,
) -> tuple[ExecutorResult, Artifact]:
    from components.example_validator.executor import run

    schema = schema_artifact(tmp_path, schema_text or PENGUIN_SCHEMA.read_text())
    inputs = {"statistics": [statistics], "schema": [schema]}
    if previous is not None:
        inputs["previous_statistics"] = [previous]
    ctx = executor_context("ExampleValidator", tmp_path, params=params, inputs=inputs)
    result = run(ctx)
    return result, ctx.outputs["anomalies"]


def anomalies_of(out: Artifact, split: str) -> object:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    anomalies = anomalies_pb2.Anomalies()
    anomalies.ParseFromString((layout.split_dir(out, split) / "SchemaDiff.pb").read_bytes())
    return anomalies


def test_penguin_data_matches_the_curated_schema(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="penguin", eval="penguin")
    result, out = validate(tmp_path, stats)
    assert result.outcome == "complete", result.message
    assert result.message == "PASSED (halt_on: error): no anomalies in splits train, eval"
    assert out.properties["anomaly_count"] == 0
    assert (out.properties["error_count"], out.properties["warning_count"]) == (0, 0)
    assert layout.split_names(out) == ["train", "eval"]
    for split in ("train", "eval"):
        assert not anomalies_of(out, split).anomaly_info  # type: ignore[attr-defined]
    assert [Path(r).name for r in result.reports] == ["report.html", "report.txt"]
    assert (out.path / "report.html").is_file() and (out.path / "report.txt").is_file()


def test_dropped_column_halts_naming_the_feature(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="dropped", eval="penguin")
    result, out = validate(tmp_path, stats)
    assert result.outcome == "halted"
    first, *rest = result.message.splitlines()
    assert first == "1 anomaly in split train: body_mass_g (column dropped)"
    assert "train/body_mass_g: Column is completely missing. (error)" in rest
    assert rest[-1] == f"report: {result.reports[0]}"
    assert out.properties["error_count"] == 1
    info = anomalies_of(out, "train").anomaly_info  # type: ignore[attr-defined]
    assert list(info) == ["body_mass_g"]
    assert not anomalies_of(out, "eval").anomaly_info  # type: ignore[attr-defined]


def test_strings_in_a_numeric_column_halt(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="strings")
    result, out = validate(tmp_path, stats)
    assert result.outcome == "halted"
    first = result.message.splitlines()[0]
    assert first.startswith("1 anomaly in split train: flipper_length_mm (")
    assert "unexpected data type; invalid values" in first
    assert 'train/flipper_length_mm: Expected data of type: FLOAT but got STRING. String ' \
        'values that were not floats were found, such as "tall". (error)' in result.message
    # The key statistics show the engineer what the column holds now.
    text = (out.path / "report.txt").read_text()
    flipper = penguin_table().column("flipper_length_mm").to_pylist()
    distinct = {f"{v:g}" for i, v in enumerate(flipper) if i != 10} | {"tall"}
    assert "type: STRING" in text and f"unique: {len(distinct)}" in text
    reasons = anomalies_of(out, "train").anomaly_info["flipper_length_mm"].reason  # type: ignore[attr-defined]
    assert {r.type for r in reasons} >= {_reason("UNEXPECTED_DATA_TYPE")}


def _reason(name: str) -> int:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    return anomalies_pb2.AnomalyInfo.Type.Value(name)


@pytest.mark.parametrize(
    ("halt_on", "outcome"),
    [("error", "complete"), ("warning", "halted"), ("never", "complete")],
)
def test_a_new_column_is_a_warning_that_halts_only_at_halt_on_warning(
    tmp_path: Path, variants: Artifact, halt_on: str, outcome: str
) -> None:
    stats = stats_of(tmp_path, variants, train="newcol")
    result, out = validate(tmp_path, stats, halt_on=halt_on)
    assert result.outcome == outcome
    assert (out.properties["warning_count"], out.properties["error_count"]) == (1, 0)
    assert "colour (new column)" in result.message.splitlines()[0]


def test_halt_on_never_records_errors_without_halting(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="dropped")
    result, _ = validate(tmp_path, stats, halt_on="never")
    assert result.outcome == "complete"
    assert result.message.startswith("PASSED (halt_on: never): 1 anomaly")
    assert result.properties == {"anomaly_count": 1, "error_count": 1, "warning_count": 0}


def test_severity_override_turns_an_error_into_a_warning(
    tmp_path: Path, variants: Artifact
) -> None:
    stats = stats_of(tmp_path, variants, train="dropped")
    result, out = validate(tmp_path, stats,
                           severity_overrides={"SCHEMA_MISSING_COLUMN": "warning"})
    assert result.outcome == "complete"
    assert (out.properties["warning_count"], out.properties["error_count"]) == (1, 0)


def test_unknown_severity_override_suggests_the_name(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="penguin")
    with pytest.raises(ConfigError, match="did you mean SCHEMA_MISSING_COLUMN"):
        validate(tmp_path, stats, severity_overrides={"SCHEMA_MISSING_COLUMNS": "warning"})


def test_drift_of_a_shifted_categorical_and_numeric_feature_halts(
    tmp_path: Path, variants: Artifact
) -> None:
    previous = stats_of(tmp_path, variants, train="base")
    stats = stats_of(tmp_path, variants, train="shifted")
    result, out = validate(tmp_path, stats, DRIFT_SCHEMA, previous,
                           drift={"colour": 0.1, "size": 0.2})
    assert result.outcome == "halted"
    first = result.message.splitlines()[0]
    assert first.startswith("2 anomalies in split train: colour (")
    assert "size (" in first
    info = anomalies_of(out, "train").anomaly_info  # type: ignore[attr-defined]
    assert {r.type for r in info["colour"].reason} == {_reason("COMPARATOR_L_INFTY_HIGH")}
    assert {r.type for r in info["size"].reason} == {
        _reason("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH")
    }
    # 50% red before, 20% after: the L-infinity distance of the shares is 0.3.
    measured = _drift_values(out)
    assert measured["colour"] == pytest.approx(0.3, abs=1e-6)
    assert measured["size"] > 0.2


def _drift_values(out: Artifact) -> dict[str, float]:
    anomalies = anomalies_of(out, "train")
    return {
        ".".join(i.path.step): i.drift_measurements[0].value
        for i in anomalies.drift_skew_info  # type: ignore[attr-defined]
    }


def test_small_drift_passes_and_is_reported(tmp_path: Path, variants: Artifact) -> None:
    previous = stats_of(tmp_path, variants, train="base")
    stats = stats_of(tmp_path, variants, train="same")
    result, out = validate(tmp_path, stats, DRIFT_SCHEMA, previous, drift={"colour": 0.1})
    assert result.outcome == "complete", result.message
    assert _drift_values(out)["colour"] == pytest.approx(0.02, abs=1e-6)
    text = (out.path / "report.txt").read_text()
    assert re.search(r"drift colour: L_INFTY 0\.0200 \(threshold 0\.1\) ok", text)


def test_drift_without_a_previous_span_is_noted(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="shifted")
    result, out = validate(tmp_path, stats, DRIFT_SCHEMA, drift={"colour": 0.1})
    assert result.outcome == "complete"
    assert "DRIFT NOT CHECKED: no earlier span exists" in (out.path / "report.txt").read_text()
    assert "DRIFT NOT CHECKED" in result.message  # the console line says so too
    assert 'class="note loud"' in (out.path / "report.html").read_text()


def test_drift_on_an_unknown_feature_is_a_config_error(tmp_path: Path, variants: Artifact) -> None:
    stats = stats_of(tmp_path, variants, train="base")
    with pytest.raises(ConfigError, match=r"drift\.color: .*did you mean 'colour'"):
        validate(tmp_path, stats, DRIFT_SCHEMA, drift={"color": 0.1})


def test_html_report_is_offline_and_names_the_features(tmp_path: Path, variants: Artifact) -> None:
    previous = stats_of(tmp_path, variants, train="penguin")
    stats = stats_of(tmp_path, variants, train="dropped", eval="strings")
    _, out = validate(tmp_path, stats, previous=previous)
    page = (out.path / "report.html").read_text()
    assert not re.search(r"https?://", page)
    assert "<script" not in page and "<link" not in page and "src=" not in page
    for text in ("body_mass_g", "flipper_length_mm", "Column dropped".lower(),
                 "SCHEMA_MISSING_COLUMN", "Split train", "Split eval", "previous span"):
        assert text in page, text
    assert page.count("<svg") >= 4  # a histogram per numeric feature
    assert "&quot;tall&quot;" in page or "tall" in page
