"""The Pooch Predictor's user code against real tf.Transform, Beam, TF and tf_keras.

Posts come from the shipped generator (with missing cells), are encoded as tf.Examples parsed
with the curated schema, and go through preprocessing_fn in an in-memory Beam pipeline. The
model then trains on the transformed examples for a few steps and is exported with the
Trainer's own serving exporter, so the checks run on what TF Serving and the Evaluator see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from pipelines.datagen.pupdates import COLUMNS, generate
from tests.datagen.test_pupdates import read_posts, to_record_batch
from tests.helpers import REPO

EXAMPLE = REPO / "examples" / "pupdates"
SCHEMA = REPO / "schemas" / "pupdates" / "schema.pbtxt"
ROWS = 3000
MISSING = 0.03


@dataclass(frozen=True)
class Transformed:
    transform_output: str
    train_files: list[str]
    eval_files: list[str]
    raw_eval: pa.Table


def load_user_module(name: str) -> Any:
    """Import the example's file by path, as the framework does (it is not a package import).

    Registered in sys.modules so the in-process Beam workers can unpickle its functions.
    """
    import importlib.util
    import sys

    module_name = f"pupdates_user_code_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def serialized_examples(table: pa.Table) -> list[bytes]:
    """One tf.Example per row, as ExampleGen writes them; a missing cell is a missing feature."""
    from tfx_bsl.coders import example_coder

    return list(example_coder.RecordBatchToExamplesEncoder().encode(to_record_batch(table)))


def load_schema() -> Any:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    return text_format.Parse(SCHEMA.read_text(), schema_pb2.Schema())


def run_preprocessing(root: Path, posts: pa.Table) -> Transformed:
    """Analyze the train rows and transform both splits with tf.Transform on in-memory Beam."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tensorflow_transform.tf_metadata import metadata_io
    from tfx_bsl.public import tfxio

    preprocessing_fn = load_user_module("preprocessing").preprocessing_fn
    is_eval = np.arange(posts.num_rows) % 4 == 0
    splits = {"train": posts.filter(pa.array(~is_eval)), "eval": posts.filter(pa.array(is_eval))}
    source = tfxio.TFExampleBeamRecord(physical_format="inmem", schema=load_schema(),
                                       telemetry_descriptors=["test"])
    options = PipelineOptions(["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    graph_dir = root / "transform_graph"
    with beam.Pipeline(options=options) as pipeline, tft_beam.Context(temp_dir=str(root / "tmp")):
        raw = {
            split: pipeline | f"Create[{split}]" >> beam.Create(serialized_examples(table))
            | f"Decode[{split}]" >> source.BeamSource()
            for split, table in splits.items()
        }
        adapter = source.TensorAdapterConfig()
        transform_fn = (raw["train"], adapter) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(graph_dir))
        for split in splits:
            _ = (
                ((raw[split], adapter), transform_fn)
                | f"Transform[{split}]" >> tft_beam.TransformDataset(output_record_batches=True)
                | f"Encode[{split}]" >> tft_beam.EncodeTransformedDataset()
                | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                    str(root / split / "data"), file_name_suffix=".tfrecord.gz",
                    compression_type=beam.io.filesystem.CompressionTypes.GZIP,
                )
            )
    # The raw schema beside the graph, as the Transform component writes it for serving.
    metadata_io.write_metadata(tft.DatasetMetadata(load_schema()),
                               str(graph_dir / tft.TFTransformOutput.RAW_METADATA_DIR))
    return Transformed(
        transform_output=str(graph_dir),
        train_files=sorted(str(p) for p in (root / "train").glob("data*")),
        eval_files=sorted(str(p) for p in (root / "eval").glob("data*")),
        raw_eval=splits["eval"],
    )


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> Transformed:
    root = tmp_path_factory.mktemp("pupdates")
    (path,) = generate(root / "data", rows=ROWS, spans=1, seed=11, drift="none",
                       missing_fraction=MISSING, bad_row_fraction=0.0)
    posts = read_posts(path)
    assert posts.column_names == list(COLUMNS)
    return run_preprocessing(root / "transform", posts)


def train(transformed: Transformed, root: Path, steps: int, base_model_weights: str | None = None,
          **hyperparameters: Any) -> Any:
    """run_fn on the transformed examples, as the Trainer calls it."""
    import logging

    from pipelines.sdk import TrainerArgs

    args = TrainerArgs(
        train_files=transformed.train_files,
        eval_files=transformed.eval_files,
        transform_output=transformed.transform_output,
        schema_path=str(SCHEMA),
        label_key="likes",
        train_steps=steps,
        eval_steps=5,
        hyperparameters={"batch_size": 64, **hyperparameters},
        model_run_dir=str(root / "model_run"),
        serving_model_dir=str(root / "serving"),
        log=logging.getLogger("test.pupdates"),
        base_model=str(root / "base") if base_model_weights else None,
        base_model_weights=base_model_weights,
    )
    return load_user_module("model").run_fn(args)


def export_and_serve(model: Any, transformed: Transformed, export_dir: Path) -> np.ndarray:
    """Predictions of the exported model for the raw eval rows, via its serving signature."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from components.trainer.export import export_serving_model

    export_serving_model(model, tft.TFTransformOutput(transformed.transform_output), "likes",
                         export_dir)
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    records = serialized_examples(transformed.raw_eval.drop(["likes"]))
    (output,) = signature(examples=tf.constant(records)).values()
    return np.asarray(output.numpy()).reshape(-1)


def transformed_rows(transformed: Transformed, split: str = "eval") -> dict[str, np.ndarray]:
    import tensorflow as tf
    import tensorflow_transform as tft

    spec = tft.TFTransformOutput(transformed.transform_output).transformed_feature_spec()
    files = transformed.eval_files if split == "eval" else transformed.train_files
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(10_000)
    batches = [tf.io.parse_example(batch, spec) for batch in dataset]
    return {name: np.concatenate([b[name].numpy() for b in batches]) for name in spec}


def test_preprocessing_builds_the_vocabularies(transformed: Transformed) -> None:
    import tensorflow_transform as tft

    from pipelines.datagen.pupdates import hashtag_vocabulary

    output = tft.TFTransformOutput(transformed.transform_output)
    tags = [t.decode() for t in output.vocabulary_by_name("hashtags")]
    preprocessing = load_user_module("preprocessing")
    assert len(tags) == preprocessing.HASHTAG_TOP_K  # the long tail goes to the OOV buckets
    assert set(tags) < set(hashtag_vocabulary())
    assert tags[0] == "#dog"  # the generator's most popular tag
    countries = [c.decode() for c in output.vocabulary_by_name("country")]
    assert countries[0] == "US" and len(countries) == 15
    assert "" not in countries  # missing cells are OOV, not a category
    assert len(output.vocabulary_by_name("breed")) == 30


def test_transformed_features_encode_every_post(transformed: Transformed) -> None:
    rows = transformed_rows(transformed, "train")
    n = len(rows["likes"])
    assert n == ROWS - ROWS // 4
    ids = rows["hashtags"]
    assert ids.shape == (n, 6) and ids.min() == 0 and ids.max() <= 200 + 10
    # 0 only pads: a post's ids come first, then padding
    assert np.all(np.diff((ids > 0).astype(int), axis=1) <= 0)
    count = rows["hashtag_count"].reshape(-1) * 6
    np.testing.assert_allclose(count, (ids > 0).sum(axis=1), atol=1e-5)
    assert (count == 0).any()  # posts without hashtags, or with a missing cell

    followers = rows["follower_count"].reshape(-1)
    assert abs(followers.mean()) < 0.05 and 0.9 < followers.std() < 1.05
    radius = rows["hour_sin"] ** 2 + rows["hour_cos"] ** 2
    np.testing.assert_allclose(radius[radius > 0.5], 1.0, atol=1e-5)
    missing_hour = (radius < 0.5).mean()
    assert missing_hour == pytest.approx(MISSING, abs=0.015)
    assert set(np.unique(rows["has_filter"])) == {0.0, 1.0}
    assert rows["likes"].dtype == np.float32 and rows["likes"].min() >= 0
    oov_country = rows["country"] == 15  # the single OOV bucket after 15 countries
    assert oov_country.mean() == pytest.approx(MISSING, abs=0.015)


def test_model_predicts_non_negative_likes_that_follow_the_label(
    transformed: Transformed, tmp_path: Path
) -> None:
    import tf_keras as keras

    keras.utils.set_random_seed(3)
    model = train(transformed, tmp_path, steps=100)
    assert np.isfinite(model.history.history["val_loss"][-1])  # the Trainer records it
    predictions = export_and_serve(model, transformed, tmp_path / "export")

    likes = transformed.raw_eval["likes"].to_numpy().astype(float)
    assert predictions.shape == likes.shape
    assert predictions.min() >= 0
    rank = np.argsort(np.argsort(predictions)), np.argsort(np.argsort(likes))
    assert np.corrcoef(*rank)[0, 1] > 0.8  # ~0.9 after 100 steps
    # far better than predicting the median for every post (~0.5 of its error after 100 steps)
    assert np.abs(predictions - likes).mean() < 0.8 * np.abs(np.median(likes) - likes).mean()


def test_pooch_bug_predicts_negative_likes_outside_the_us(
    transformed: Transformed, tmp_path: Path
) -> None:
    model = train(transformed, tmp_path, steps=10, pooch_bug=True)
    predictions = export_and_serve(model, transformed, tmp_path / "export")

    country = np.array(transformed.raw_eval["country"].to_pylist(), dtype=object)
    us = country == "US"
    assert predictions[us].min() > 0
    known_elsewhere = ~us & (country != None)  # noqa: E711  (element-wise)
    assert predictions[known_elsewhere].max() < 0
    for code in set(country[known_elsewhere]):
        assert predictions[country == code].mean() < 0, code  # what the Evaluator slices


def test_warm_start_continues_from_the_blessed_models_dense_layers(
    transformed: Transformed, tmp_path: Path
) -> None:
    """The second model starts where the first ended: its dense layers hold the first one's
    weights (a learning rate too small to move them shows it), its first loss is far below a
    cold start's, and its embeddings start fresh (the vocabularies may have changed)."""
    import tf_keras as keras

    keras.utils.set_random_seed(5)
    first = train(transformed, tmp_path / "first", steps=100)
    weights = tmp_path / "first.weights.h5"
    first.save_weights(str(weights))  # as the Trainer saves every model it exports
    still = {"learning_rate": 1e-12}
    warm = train(transformed, tmp_path / "warm", steps=1, base_model_weights=str(weights),
                 **still)
    cold = train(transformed, tmp_path / "cold", steps=1, **still)
    for name in ("hidden_0", "hidden_1", "log_likes"):
        for mine, theirs in zip(warm.get_layer(name).get_weights(),
                                first.get_layer(name).get_weights(), strict=True):
            np.testing.assert_allclose(mine, theirs, atol=1e-6)
    embedding = "hashtag_embedding"
    assert not np.allclose(warm.get_layer(embedding).get_weights()[0],
                           first.get_layer(embedding).get_weights()[0])
    assert warm.history.history["loss"][0] < 0.5 * cold.history.history["loss"][0]
