"""TFX 1.16 equivalent of Lockgate's configs/numeric.yaml, for the benchmark (issue 17).

    python bench/tfx/numeric_pipeline.py --home DIR --data DATA [--no-cache] [--beam-arg ARG ...]

DATA is a folder written by `lockgate datagen numeric --out DATA` (span-1/numeric.csv, whose
header is plain, so CsvExampleGen reads the file as it is); CsvExampleGen reads the latest span,
as Lockgate's ExampleGen does. Same 2:1 split, the same curated schema
(schemas/numeric/schema.pbtxt, imported), the same z-scores, the same network and
hyperparameters, 400 train / 20 eval steps, and the same Evaluator metrics and thresholds, with
no slices. Runs in the TFX venv only.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, so its own folder is first on sys.path.
from pipeline_common import (
    HERE,
    REPO,
    BenchPipeline,
    arg_parser,
    configure_logging,
    run,
)

SPEC = BenchPipeline(
    name="numeric",
    module_file=HERE / "numeric_utils.py",
    label_key="label",
    train_steps=400,
    eval_steps=20,
    hyperparameters={"batch_size": 128, "learning_rate": 0.002, "hidden_units": [32, 16]},
    model_name="numeric",
    schema_file=REPO / "schemas" / "numeric" / "schema.pbtxt",
    input_pattern="span-{SPAN}/numeric.csv",
)


def eval_config() -> object:
    """configs/numeric.yaml's Evaluator: overall only; BinaryAccuracy >= 0.7 and at most 0.01
    worse than the baseline; ExampleCount."""
    import tensorflow_model_analysis as tfma

    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=SPEC.label_key, signature_name="serving_default")],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(
            metrics=[
                tfma.MetricConfig(
                    class_name="BinaryAccuracy",
                    threshold=tfma.MetricThreshold(
                        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.7}),
                        change_threshold=tfma.GenericChangeThreshold(
                            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                            absolute={"value": -0.01},
                        ),
                    ),
                ),
                tfma.MetricConfig(class_name="ExampleCount"),
            ],
        )],
    )


def main() -> None:
    parser = arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="folder with span-N/numeric.csv from `lockgate datagen numeric`")
    args = parser.parse_args()
    configure_logging()
    seconds = run(SPEC, args.data.resolve(), args.home, enable_cache=not args.no_cache,
                  eval_config=eval_config(), beam_args=args.beam_args)
    print(f"numeric TFX pipeline finished in {seconds:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
