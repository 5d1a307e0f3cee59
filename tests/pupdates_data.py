"""A small pupdates model trained by the real ExampleGen, Transform and Trainer executors, for
the Evaluator's tests on a regression with slices."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pipelines.component import Artifact
from tests.helpers import REPO, executor_context
from tests.penguin_data import run_transform

PUPDATES = REPO / "examples" / "pupdates"


@dataclass(frozen=True)
class PupdatesModel:
    examples: Artifact
    schema: Artifact
    model: Artifact


def pupdates_model(
    tmp_path: Path, rows: int, train_steps: int = 2, pooch_bug: bool = False
) -> PupdatesModel:
    """Examples of ``rows`` generated posts, the shipped schema, and a model trained
    ``train_steps`` steps."""
    import tf_keras as keras

    from components.example_gen.executor import run as example_gen
    from components.trainer.executor import run as train
    from pipelines.datagen.pupdates import generate

    [posts] = generate(tmp_path / "data", rows=rows, spans=1, seed=3, drift="none",
                       missing_fraction=0.0, bad_row_fraction=0.0)
    gen = executor_context("ExampleGen", tmp_path / "gen", params={"input": str(posts)})
    example_gen(gen)
    examples = gen.outputs["examples"]
    schema = Artifact("Schema", str(tmp_path / "schema"))
    schema.path.mkdir()
    shutil.copy(REPO / "schemas" / "pupdates" / "schema.pbtxt", schema.path / "schema.pbtxt")
    transform = run_transform(tmp_path / "transform", (examples, schema),
                              PUPDATES / "preprocessing.py")
    keras.utils.set_random_seed(7)
    trainer = executor_context(
        "Trainer", tmp_path / "trainer",
        params={"module_file": str(PUPDATES / "model.py"), "label_key": "likes",
                "train_steps": train_steps, "eval_steps": 1,
                "hyperparameters": {"batch_size": 64, "pooch_bug": pooch_bug}},
        inputs={"examples": [transform.outputs["transformed_examples"]],
                "transform_graph": [transform.outputs["transform_graph"]], "schema": [schema]},
    )
    train(trainer)
    return PupdatesModel(examples, schema, trainer.outputs["model"])
