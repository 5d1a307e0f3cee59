"""SchemaGen executor: inference from real TFDV statistics, and the curated-schema import."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.component import Artifact, ExecutionContext
from pipelines.errors import ConfigError, DataError
from pipelines.sdk import layout
from tests.components.test_statistics_gen import Row, examples_artifact, run_statistics
from tests.helpers import REPO, executor_context

PENGUIN_SCHEMA = REPO / "schemas" / "penguin" / "schema.pbtxt"


@pytest.fixture(scope="module")
def statistics(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """train: every row has all three features; eval: ``note`` only in some rows."""
    root = tmp_path_factory.mktemp("schema-stats")
    train: list[Row] = [
        {"length": float(i), "kind": ("a", "b")[i % 2], "count": i} for i in range(30)
    ]
    eval_rows: list[Row] = [
        {"length": float(i), "note": "x"} if i % 3 else {"length": 1.0} for i in range(12)
    ]
    examples = examples_artifact(root, {"train": train, "eval": eval_rows})
    return run_statistics(root, examples).outputs["statistics"]


def run_schema_gen(
    tmp_path: Path, statistics: Artifact, params: dict[str, object] | None = None
) -> ExecutionContext:
    from components.schema_gen.executor import run

    ctx = executor_context("SchemaGen", tmp_path, params=params,
                           inputs={"statistics": [statistics]})
    run(ctx)
    return ctx


def load(ctx: ExecutionContext) -> object:
    from components.schema_file import read_schema

    return read_schema(ctx.outputs["schema"].path / layout.SCHEMA_FILE)


def test_infers_types_presence_and_shapes_from_train(tmp_path: Path, statistics: Artifact) -> None:
    from tensorflow_metadata.proto.v0 import schema_pb2

    ctx = run_schema_gen(tmp_path, statistics)
    schema = load(ctx)
    assert isinstance(schema, schema_pb2.Schema)
    features = {f.name: f for f in schema.feature}
    assert set(features) == {"length", "kind", "count"}  # eval's "note" is not in train
    assert features["length"].type == schema_pb2.FLOAT
    assert features["count"].type == schema_pb2.INT
    assert features["kind"].type == schema_pb2.BYTES
    for feature in features.values():
        assert feature.presence.min_fraction == 1.0
        # infer_feature_shape: one value in every example gives a fixed shape (dense in TFT).
        assert [d.size for d in feature.shape.dim] == [1]
    assert ctx.outputs["schema"].properties["feature_count"] == 3
    # The train split holds no NaN or infinity, so a later span that does is an anomaly.
    domain = features["length"].float_domain
    assert domain.disallow_nan and domain.disallow_inf


def test_infers_from_the_configured_split_without_shapes(
    tmp_path: Path, statistics: Artifact
) -> None:
    schema = load(run_schema_gen(tmp_path, statistics,
                                 {"split": "eval", "infer_feature_shape": False}))
    features = {f.name: f for f in schema.feature}  # type: ignore[attr-defined]
    assert set(features) == {"length", "note"}
    assert features["note"].presence.min_fraction < 1.0  # present in 8 of 12 rows
    assert not any(f.HasField("shape") for f in features.values())


def test_unknown_split_lists_the_available_ones(tmp_path: Path, statistics: Artifact) -> None:
    with pytest.raises(DataError, match=r"no split 'test'.*train, eval"):
        run_schema_gen(tmp_path, statistics, {"split": "test"})


def test_imports_the_curated_penguin_schema_verbatim(tmp_path: Path, statistics: Artifact) -> None:
    ctx = run_schema_gen(tmp_path, statistics, {"schema_file": "../schemas/penguin/schema.pbtxt"})
    written = ctx.outputs["schema"].path / layout.SCHEMA_FILE
    assert written.read_bytes() == PENGUIN_SCHEMA.read_bytes()  # comments kept for reviewers
    schema = load(ctx)
    features = {f.name: f for f in schema.feature}  # type: ignore[attr-defined]
    assert list(features) == ["species", "culmen_length_mm", "culmen_depth_mm",
                              "flipper_length_mm", "body_mass_g"]
    assert (features["species"].int_domain.min, features["species"].int_domain.max) == (0, 2)
    for feature in features.values():
        assert feature.presence.min_fraction == 1.0
        assert [d.size for d in feature.shape.dim] == [1]
    assert ctx.outputs["schema"].properties["source"].startswith("imported ")


def test_a_schema_that_does_not_parse_names_file_and_line(
    tmp_path: Path, statistics: Artifact
) -> None:
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('feature {\n  name: "a"\n  type: FLOAT\n  presense { min_fraction: 1 }\n}\n')
    with pytest.raises(ConfigError) as error:
        run_schema_gen(tmp_path, statistics, {"schema_file": str(bad)})
    message = str(error.value)
    assert f"{bad}:4:" in message
    assert "presense" in message and "schema_file" in message
    assert not (tmp_path / "out" / "schema" / layout.SCHEMA_FILE).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "does not exist"), ("# nothing but a comment\n", "defines no features")],
    ids=["missing", "empty"],
)
def test_missing_or_empty_schema_file(
    tmp_path: Path, statistics: Artifact, content: str | None, expected: str
) -> None:
    path = tmp_path / "schema.pbtxt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=expected) as error:
        run_schema_gen(tmp_path, statistics, {"schema_file": str(path)})
    assert str(path) in str(error.value)
