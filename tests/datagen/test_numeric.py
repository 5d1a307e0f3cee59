"""The numeric data generator: determinism, shape, chunking, its distributions, a label a model
can learn and a guess cannot, and the curated schema's agreement with the data (real TFDV)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

from pipelines import cli
from pipelines.datagen import numeric
from pipelines.datagen.numeric import COLUMNS, FEATURES, DatagenError, generate
from tests.datagen.test_pupdates import to_record_batch
from tests.helpers import REPO

SCHEMA = REPO / "schemas" / "numeric" / "schema.pbtxt"
CONFIG = REPO / "configs" / "numeric.yaml"
ROWS = 20_000


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def features(table: pa.Table) -> np.ndarray:
    """The 30 features as a (row, feature) float64 matrix."""
    return np.column_stack([table[name].to_numpy() for name in FEATURES]).astype(np.float64)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 3000, seed=7)
    again = generate(tmp_path / "b", 3000, seed=7)
    other = generate(tmp_path / "c", 3000, seed=8)
    assert first == tmp_path / "a" / "span-1" / "numeric.csv"
    assert digest(first) == digest(again)
    assert digest(first) != digest(other)
    assert not list(first.parent.glob("*.tmp"))


def test_the_file_has_the_columns_and_rows_asked_for(tmp_path: Path) -> None:
    path = generate(tmp_path, 1234)
    # A plain header: TFX's CsvExampleGen splits it on commas without unquoting.
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    table = pacsv.read_csv(path)
    assert table.column_names == ["id", *(f"f{i:02d}" for i in range(30)), "label"]
    assert table.num_rows == 1234
    assert table["id"].to_pylist() == list(range(1, 1235))
    assert table.schema.field("label").type == pa.int64()
    assert set(table["label"].to_pylist()) == {0, 1}
    assert all(pa.types.is_floating(table.schema.field(name).type) for name in FEATURES)
    assert table.num_rows == table.drop_null().num_rows  # no missing cells


def test_chunks_join_into_one_file_with_one_header(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    whole = generate(tmp_path / "whole", 2500, seed=3)
    monkeypatch.setattr(numeric, "CHUNK_ROWS", 700)  # 4 chunks, the last one short
    chunked = generate(tmp_path / "chunked", 2500, seed=3)
    lines = chunked.read_text().splitlines()
    assert len(lines) == 2501
    assert sum(line.startswith("id,") for line in lines) == 1
    assert all(len(line.split(",")) == len(COLUMNS) for line in lines)
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 2501))
    assert digest(chunked) != digest(whole)  # each chunk has a seed of its own
    assert digest(generate(tmp_path / "again", 2500, seed=3)) == digest(chunked)
    labels = np.array([int(line.rsplit(",", 1)[1]) for line in lines[1:]])
    for start in range(0, 2500, 700):  # every chunk, not only the first, has both classes
        assert 0.3 < labels[start:start + 700].mean() < 0.7


def test_the_features_have_their_distributions(tmp_path: Path) -> None:
    x = features(pacsv.read_csv(generate(tmp_path, ROWS)))
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    skew = (z**3).mean(axis=0)
    kurtosis = (z**4).mean(axis=0)
    normal, lognormal, uniform = (list(range(*s.indices(30))) for s in (
        numeric.NORMAL, numeric.LOGNORMAL, numeric.UNIFORM))
    assert np.all(np.abs(skew[normal]) < 0.1) and np.all(np.abs(kurtosis[normal] - 3) < 0.2)
    assert np.all(x[:, lognormal] >= 0) and np.all(skew[lognormal] > 1)
    assert np.all(np.abs(kurtosis[uniform] - 1.8) < 0.1)  # flat: a uniform's kurtosis is 1.8
    correlation = np.corrcoef(z, rowvar=False)
    for k, rho in enumerate(numeric._RHO):
        assert correlation[k, 24 + k] == pytest.approx(rho, abs=0.03)
    assert np.abs(correlation[np.triu_indices(24, 1)]).max() < 0.05  # the others independent
    spread = x.std(axis=0)
    assert spread.max() > 100 * spread.min()  # scales differ: the model needs z-scores


def test_the_label_is_learnable_and_the_threshold_refuses_a_guess(tmp_path: Path) -> None:
    """A least-squares linear classifier of the z-scored features passes the config's
    BinaryAccuracy bound with room to spare; answering the larger class everywhere fails it."""
    table = pacsv.read_csv(generate(tmp_path, ROWS, seed=5))
    x, y = features(table), table["label"].to_numpy()
    assert 0.3 < y.mean() < 0.7
    train = slice(0, 2 * ROWS // 3)
    held = slice(2 * ROWS // 3, ROWS)
    z = (x - x[train].mean(axis=0)) / x[train].std(axis=0)
    design = np.column_stack([z, np.ones(ROWS)])
    weights = np.linalg.lstsq(design[train], 2.0 * y[train] - 1.0, rcond=None)[0]
    linear = float(((design[held] @ weights > 0) == y[held]).mean())
    majority = max(y[held].mean(), 1 - y[held].mean())

    config = yaml.safe_load(CONFIG.read_text())
    [evaluator] = [c for c in config["components"] if c["component"] == "Evaluator"]
    [accuracy] = [m for m in evaluator["params"]["metrics"] if m["class_name"] == "BinaryAccuracy"]
    bound = accuracy["threshold"]["lower"]
    assert majority + 0.1 < bound < linear - 0.05, (majority, bound, linear)


def test_invalid_options_are_refused_with_the_option_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(DatagenError, match=r"--rows must be at least 1.*--seed must be a non-neg"):
        generate(tmp_path / "data", 0, seed=-1)
    assert not (tmp_path / "data").exists()

    code = cli.main(["datagen", "numeric", "--out", str(tmp_path / "cli"), "--rows", "0"])
    assert code == cli.EXIT_FAILED
    assert "--rows must be at least 1" in capsys.readouterr().err


def test_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert cli.main(["datagen", "numeric", "--out", str(out), "--rows", "500",
                     "--seed", "3"]) == 0
    path = out / "span-1" / "numeric.csv"
    assert capsys.readouterr().out.split() == ["wrote", str(path)]
    assert digest(path) == digest(generate(tmp_path / "api", 500, seed=3))


def test_the_curated_schema_accepts_the_data_and_catches_nan_and_negatives(
    tmp_path: Path,
) -> None:
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_data_validation.statistics.stats_impl import generate_statistics_in_memory
    from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

    schema = text_format.Parse(SCHEMA.read_text(), schema_pb2.Schema())
    assert [f.name for f in schema.feature] == ["id", "label", *FEATURES]
    table = pacsv.read_csv(generate(tmp_path, 5000))
    stats = generate_statistics_in_memory(to_record_batch(table))
    assert dict(tfdv.validate_statistics(stats, schema).anomaly_info) == {}

    # A NaN in a normal feature, a negative value in a lognormal one.
    broken = table
    for name, value in (("f00", float("nan")), ("f10", -1.0)):
        cells = broken[name].to_pylist()
        cells[0] = value
        broken = broken.set_column(COLUMNS.index(name), name, pa.array(cells))
    found = tfdv.validate_statistics(generate_statistics_in_memory(to_record_batch(broken)),
                                     schema)
    reasons = {name: {r.type for r in info.reason} for name, info in found.anomaly_info.items()}
    kind = anomalies_pb2.AnomalyInfo.Type.Value
    assert reasons == {"f00": {kind("FLOAT_TYPE_HAS_NAN")},
                       "f10": {kind("FLOAT_TYPE_SMALL_FLOAT")}}
