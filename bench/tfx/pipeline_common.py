"""The TFX pipeline both benchmark pipelines share: CsvExampleGen -> StatisticsGen -> SchemaGen ->
ExampleValidator -> Transform -> Trainer -> Evaluator (against the latest blessed model) ->
Pusher, run by TFX's LocalDagRunner on a SQLite MLMD, laid out under one ``--home`` folder:

    <home>/pipelines/<name>/   pipeline root (artifacts, TFX's user-code wheels)
    <home>/metadata.sqlite     ML Metadata
    <home>/serving/<model>/    Pusher's destination

Runs inside the TFX venv (bench/tfx/setup.sh), never the project's.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# TF 2.16 would hand TFX Keras 3; Lockgate and its user code use tf-keras (Keras 2), as TFX 1.16
# needs. Set before TensorFlow is imported, as Lockgate's launcher does.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# The Beam mode Lockgate's shipped configs use (configs/*.yaml beam_args); TFX's default
# DirectRunner is the same (in_memory, one worker), spelled out so both sides match.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
# Node ids the report maps onto Lockgate's (bench/report.py: CsvExampleGen -> example_gen).
SCHEMA_NODE_ID = "SchemaGen"
RESOLVER_NODE_ID = "latest_blessed_model_resolver"


@dataclass(frozen=True)
class BenchPipeline:
    """What differs between the penguin and pupdates pipelines."""

    name: str
    module_file: Path
    label_key: str
    train_steps: int
    eval_steps: int
    hyperparameters: dict[str, Any]
    model_name: str
    schema_file: Path | None
    """A curated schema to import (Lockgate's SchemaGen ``schema_file``); None infers one."""
    input_pattern: str | None = None
    """CsvExampleGen's file pattern inside the input folder, e.g. ``span-{SPAN}/posts.csv``."""
    beam_args: tuple[str, ...] = field(default=DEFAULT_BEAM_ARGS)


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--home", type=Path, required=True,
                        help="folder for the pipeline root, MLMD and pushed models")
    parser.add_argument("--no-cache", action="store_true", help="disable TFX's caching")
    parser.add_argument("--beam-arg", action="append", dest="beam_args", metavar="ARG",
                        help="Beam pipeline argument (repeatable); default: "
                        + " ".join(DEFAULT_BEAM_ARGS))
    return parser


def run(spec: BenchPipeline, input_base: Path, home: Path, *, enable_cache: bool,
        eval_config: Any, beam_args: list[str] | None = None) -> float:
    """Build the pipeline and run it with LocalDagRunner; returns the run's seconds."""
    from tfx import v1 as tfx

    if not input_base.is_dir():
        sys.exit(f"error: input folder {input_base} does not exist; CsvExampleGen reads a folder")
    if spec.schema_file is not None and not spec.schema_file.is_file():
        sys.exit(f"error: curated schema {spec.schema_file} does not exist")
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)

    input_config = None
    if spec.input_pattern:
        input_config = tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="single_split", pattern=spec.input_pattern)
        ])
    # Lockgate splits 2:1 by hash into train/eval; so does CsvExampleGen's default output config,
    # written out here so the equivalence is visible.
    output_config = tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
        tfx.proto.SplitConfig.Split(name="train", hash_buckets=2),
        tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1),
    ]))
    example_gen = tfx.components.CsvExampleGen(
        input_base=str(input_base), input_config=input_config, output_config=output_config
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    if spec.schema_file is not None:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=str(spec.schema_file))
    else:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
        )
    schema_gen = schema_gen.with_id(SCHEMA_NODE_ID)
    schema = schema_gen.outputs["schema"]
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema,
        module_file=str(spec.module_file),
    )
    trainer = tfx.components.Trainer(
        module_file=str(spec.module_file),
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema,
        train_args=tfx.proto.TrainArgs(num_steps=spec.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=spec.eval_steps),
        custom_config=spec.hyperparameters,
    )
    # Lockgate's Evaluator compares against the latest blessed model; this is TFX's way.
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(RESOLVER_NODE_ID)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        schema=schema,
        eval_config=eval_config,
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=str(home / "serving" / spec.model_name)
            )
        ),
    )
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=spec.name,
        pipeline_root=str(home / "pipelines" / spec.name),
        components=[example_gen, statistics_gen, schema_gen, example_validator, transform,
                    trainer, baseline, evaluator, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(home / "metadata.sqlite")
        ),
        beam_pipeline_args=list(beam_args or spec.beam_args),
    )
    started = time.monotonic()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return time.monotonic() - started


def configure_logging() -> None:
    """TFX logs through absl at INFO: component starts and ends, as in TFX's own examples."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger().setLevel(logging.INFO)
