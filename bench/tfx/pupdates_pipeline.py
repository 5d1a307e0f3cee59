"""TFX 1.16 equivalent of Lockgate's configs/pupdates.yaml, for the benchmark (issue 6).

    python bench/tfx/pupdates_pipeline.py --home DIR --data DATA [--no-cache] [--beam-arg ARG ...]

DATA is a folder of daily spans written by `lockgate datagen pupdates --out DATA`
(span-N/posts.csv); CsvExampleGen reads the latest span, as Lockgate's ExampleGen does. Same 2:1
split, the same curated schema (schemas/pupdates/schema.pbtxt, imported), the same hashtag
vocabulary / category vocabulary / log-z-score / cyclic-hour preprocessing, the same network and
hyperparameters, 400 train / 20 eval steps, and the same Evaluator slices, metrics and
thresholds. Runs in the TFX venv only.
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
    name="pupdates",
    module_file=HERE / "pupdates_utils.py",
    label_key="likes",
    train_steps=400,
    eval_steps=20,
    hyperparameters={
        "batch_size": 128,
        "learning_rate": 0.005,
        "hidden_units": [64, 32],
        "hashtag_embedding_dim": 16,
        "category_embedding_dim": 8,
    },
    model_name="pupdates",
    schema_file=REPO / "schemas" / "pupdates" / "schema.pbtxt",
    input_pattern="span-{SPAN}/posts.csv",
)


def eval_config() -> object:
    """configs/pupdates.yaml's Evaluator: overall and per-country slices; MAE <= 100 and at most
    10 worse than the baseline; mean prediction >= 0 overall and in every country."""
    import tensorflow_model_analysis as tfma

    overall, by_country = tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["country"])
    non_negative = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.0})
    )
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=SPEC.label_key, signature_name="serving_default")],
        slicing_specs=[overall, by_country],
        metrics_specs=[tfma.MetricsSpec(
            metrics=[
                tfma.MetricConfig(
                    class_name="MeanAbsoluteError",
                    threshold=tfma.MetricThreshold(
                        value_threshold=tfma.GenericValueThreshold(upper_bound={"value": 100.0}),
                        change_threshold=tfma.GenericChangeThreshold(
                            direction=tfma.MetricDirection.LOWER_IS_BETTER,
                            absolute={"value": 10.0},
                        ),
                    ),
                ),
                tfma.MetricConfig(class_name="MeanSquaredError"),
                # Lockgate's `slices: [[country]]` on a threshold: overall and every country.
                # (Set on the MetricConfig: TFMA 0.47 keys MetricsSpec.per_slice_thresholds
                # without the example weighting, so those thresholds never find their metric.)
                tfma.MetricConfig(
                    class_name="MeanPrediction",
                    per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                        slicing_specs=[overall, by_country], threshold=non_negative,
                    )],
                ),
                tfma.MetricConfig(class_name="ExampleCount"),
            ],
        )],
    )


def check_headers(data: Path) -> None:
    """CsvExampleGen splits the header line on commas without unquoting it, so the generator's
    quoted header ("post_id",...) would name every feature with its quotes and match no schema
    feature. run.py feeds TFX a copy whose header is unquoted (the data rows are untouched)."""
    for csv in sorted(data.glob("span-*/posts.csv")):
        with csv.open() as f:
            if '"' in f.readline():
                sys.exit(f"error: {csv} has a quoted header, which TFX's CsvExampleGen cannot "
                         "read; use bench/tfx/run.py (it prepares an unquoted-header copy)")


def main() -> None:
    parser = arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="folder with span-N/posts.csv from `lockgate datagen pupdates`")
    args = parser.parse_args()
    check_headers(args.data)
    configure_logging()
    seconds = run(SPEC, args.data.resolve(), args.home, enable_cache=not args.no_cache,
                  eval_config=eval_config(), beam_args=args.beam_args)
    print(f"pupdates TFX pipeline finished in {seconds:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
