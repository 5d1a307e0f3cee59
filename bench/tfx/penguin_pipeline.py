"""TFX 1.16 equivalent of Lockgate's configs/penguin.yaml, for the benchmark (issue 6).

    python bench/tfx/penguin_pipeline.py --home DIR [--no-cache] [--beam-arg ARG ...]

Same data (examples/penguin/data/penguins_processed.csv, copied into a folder of its
own because CsvExampleGen reads a folder), same 2:1 split, same curated schema when the repo has
one, same z-score preprocessing, same [8, 8] DNN with the same hyperparameters, 300 train / 50
eval steps, and the same Evaluator metrics and thresholds. Runs in the TFX venv only.
"""

from __future__ import annotations

import shutil
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

DATA = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
CURATED_SCHEMA = REPO / "schemas" / "penguin" / "schema.pbtxt"

SPEC = BenchPipeline(
    name="penguin",
    module_file=HERE / "penguin_utils.py",
    label_key="species",
    train_steps=300,
    eval_steps=50,
    hyperparameters={"hidden_units": [8, 8], "learning_rate": 0.01, "batch_size": 20},
    model_name="penguin",
    # Lockgate imports schemas/penguin/schema.pbtxt; infer one (as TFX's example does) only
    # while the repo has none.
    schema_file=CURATED_SCHEMA if CURATED_SCHEMA.is_file() else None,
)


def eval_config() -> object:
    """configs/penguin.yaml's Evaluator: accuracy >= 0.6 and no worse than the baseline."""
    import tensorflow_model_analysis as tfma

    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=SPEC.label_key, signature_name="serving_default")],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(
                class_name="SparseCategoricalAccuracy",
                threshold=tfma.MetricThreshold(
                    value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.6}),
                    change_threshold=tfma.GenericChangeThreshold(
                        direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                        absolute={"value": -1e-10},
                    ),
                ),
            ),
            tfma.MetricConfig(class_name="ExampleCount"),
        ])],
    )


def input_folder(home: Path) -> Path:
    folder = home / "data" / "penguin"
    if not (folder / DATA.name).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA, folder / DATA.name)
    return folder


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    configure_logging()
    seconds = run(SPEC, input_folder(args.home), args.home, enable_cache=not args.no_cache,
                  eval_config=eval_config(), beam_args=args.beam_args)
    print(f"penguin TFX pipeline finished in {seconds:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
