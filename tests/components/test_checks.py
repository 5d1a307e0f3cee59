"""`lockgate validate` checks what only the disk or the wiring can tell, each at its config line:
ExampleGen inputs that match nothing, user code files that do not exist, unknown metrics, keys
missing from the curated schema, and threshold bounds no model could reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.evaluator import known_metrics
from components.evaluator.gen_known_metrics import current, render
from pipelines.cli import main
from pipelines.errors import ConfigError
from pipelines.loading import check_config, load_config
from tests.helpers import REPO

PENGUIN_CSV = REPO / "examples/penguin/data/penguins_processed.csv"
PENGUIN_SCHEMA = REPO / "schemas/penguin/schema.pbtxt"
FEATURES = "species, culmen_length_mm, culmen_depth_mm, flipper_length_mm, body_mass_g"


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line(text: str, needle: str) -> int:
    """The 1-based line of the one line of ``text`` containing ``needle``."""
    [number] = [i for i, row in enumerate(text.splitlines(), 1) if needle in row]
    return number


def errors(path: Path, require_data: bool = False) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, require_data=require_data)
    return [str(issue) for issue in caught.value.issues]


def warnings(path: Path) -> list[str]:
    return [str(issue) for issue in check_config(path)[1]]


# --- ExampleGen ---------------------------------------------------------------------------

def example_gen(input_: str, extra: str = "") -> str:
    return (
        "pipeline:\n  name: demo\ncomponents:\n  - component: ExampleGen\n    params:\n"
        f"      input: {input_}\n{extra}  - component: StatisticsGen\n"
    )


def test_missing_input_warns_for_validate_and_fails_a_run(
    tmp_path: Path, lockgate_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "other.csv").write_text("a\n1\n")
    config = write(tmp_path, example_gen("data.csv"))
    message = (
        f"components[0].params.input: input 'data.csv' (resolved to {tmp_path / 'data.csv'}) "
        f"matches no files. Check the path (relative paths are relative to the config's "
        f"folder, {tmp_path}) and that the data has been written there. The folder {tmp_path} "
        "holds lockgate-home, other.csv, p.yaml."
    )
    lockgate_home.mkdir()
    assert warnings(config) == [f"{config}:6: {message.replace(': input', ': warning: input', 1)}"]
    assert errors(config, require_data=True) == [f"{config}:6: {message}"]

    assert main(["validate", str(config)]) == 0
    out, err = capsys.readouterr()
    assert f"{config}:6: components[0].params.input: warning: input 'data.csv'" in err
    assert "ok, but data it reads is missing" in out
    assert main(["validate", "--require-data", str(config)]) == 2
    assert f"{config}:6: {message}" in capsys.readouterr().err

    # `lockgate run` stops before anything runs: no metadata store, no pipeline root.
    assert main(["run", str(config)]) == 2
    assert f"{config}:6: {message}" in capsys.readouterr().err
    assert not (lockgate_home / "metadata.sqlite").exists()


def test_span_pattern_names_the_first_missing_folder(tmp_path: Path) -> None:
    config = write(tmp_path, example_gen("feed/span-{SPAN}/posts.csv"))
    [issue] = errors(config, require_data=True)
    assert issue.startswith(f"{config}:6: components[0].params.input: input "
                            "'feed/span-{SPAN}/posts.csv' (resolved to ")
    assert "matches no files with a number in place of {SPAN}/{VERSION}" in issue
    assert issue.endswith(f"The folder {tmp_path / 'feed'} does not exist.")

    (tmp_path / "feed/span-1").mkdir(parents=True)
    (tmp_path / "feed/span-1/post.csv").write_text("a\n1\n")  # a typo in the file name
    [issue] = errors(config, require_data=True)
    assert issue.endswith(f"The folder {tmp_path / 'feed'} holds span-1.")

    (tmp_path / "feed/span-1/posts.csv").write_text("a\n1\n")
    assert warnings(config) == []


def test_pinned_span_that_does_not_exist_points_at_span(tmp_path: Path) -> None:
    (tmp_path / "span-1").mkdir()
    (tmp_path / "span-1/posts.csv").write_text("a\n1\n")
    text = example_gen("span-{SPAN}/posts.csv", "      span: 3\n")
    [issue] = errors(write(tmp_path, text), require_data=True)
    assert issue == (
        f"{tmp_path / 'p.yaml'}:7: components[0].params.span: span 3 of input "
        "'span-{SPAN}/posts.csv' does not exist; the spans found are 1. Set `span` to one of "
        "them, or remove it to read the latest."
    )


def test_span_without_placeholder_is_a_config_error_even_without_data(tmp_path: Path) -> None:
    text = example_gen("data.csv", "      span: 2\n")
    [issue] = errors(write(tmp_path, text))  # an error for validate, not a warning
    assert issue == (
        f"{tmp_path / 'p.yaml'}:7: components[0].params.span: span 2 is set but input "
        "'data.csv' has no {SPAN}; put {SPAN} where the span number appears in the path, or "
        "remove `span`"
    )


# --- Evaluator, Trainer, SchemaGen -----------------------------------------------------------

def pipeline(trainer: str = "", evaluator: str = "",
             schema_file: Path | None = PENGUIN_SCHEMA) -> str:
    """A penguin pipeline on the repo's real files; ``trainer``/``evaluator`` replace params."""
    trainer = trainer or "      label_key: species\n"
    evaluator = evaluator or (
        "      label_key: species\n      metrics:\n"
        "        - class_name: SparseCategoricalAccuracy\n          threshold: {lower: 0.6}\n"
    )
    schema = f"    params:\n      schema_file: {schema_file}\n" if schema_file else ""
    return (
        "pipeline:\n  name: demo\ncomponents:\n"
        f"  - component: ExampleGen\n    params:\n      input: {PENGUIN_CSV}\n"
        "  - component: StatisticsGen\n"
        f"  - component: SchemaGen\n{schema}"
        "  - component: Transform\n    params:\n"
        f"      module_file: {REPO / 'examples/penguin/preprocessing.py'}\n"
        "  - component: Trainer\n    params:\n"
        f"      module_file: {REPO / 'examples/penguin/model.py'}\n{trainer}"
        f"  - component: Evaluator\n    params:\n{evaluator}"
    )


def test_the_test_pipeline_is_valid(tmp_path: Path) -> None:
    assert warnings(write(tmp_path, pipeline())) == []


def test_unknown_metric_suggests_the_closest(tmp_path: Path) -> None:
    text = pipeline(evaluator=(
        "      label_key: species\n      metrics:\n"
        "        - class_name: SparseCategoricalAcuracy\n          threshold: {lower: 0.6}\n"
        "        - class_name: ExampleCountt\n"
        "        - class_name: MyScore\n          module: my_metrics\n"  # custom: not checked
        "        - class_name: Blorp\n"
    ))
    path = write(tmp_path, text)
    assert errors(path) == [
        f"{path}:{line(text, 'Acuracy')}: components[5].params.metrics[0].class_name: "
        "'SparseCategoricalAcuracy' is neither a TFMA nor a tf_keras metric; did you mean "
        "'SparseCategoricalAccuracy' or 'SparseTopKCategoricalAccuracy' or "
        "'CategoricalAccuracy'? Use a class name from tfma.metrics or tf_keras.metrics, or "
        "set `module` for a custom metric class.",
        f"{path}:{line(text, 'Countt')}: components[5].params.metrics[1].class_name: "
        "'ExampleCountt' is neither a TFMA nor a tf_keras metric; did you mean "
        "'ExampleCount' or 'WeightedExampleCount'? Use a class name from tfma.metrics or "
        "tf_keras.metrics, or set `module` for a custom metric class.",
        f"{path}:{line(text, 'Blorp')}: components[5].params.metrics[3].class_name: 'Blorp' "
        "is neither a TFMA nor a tf_keras metric. Use a class name from tfma.metrics or "
        "tf_keras.metrics, or set `module` for a custom metric class.",
    ]


def test_bounds_no_metric_could_reach(tmp_path: Path) -> None:
    text = pipeline(evaluator=(
        "      label_key: species\n      metrics:\n"
        "        - class_name: SparseCategoricalAccuracy\n          threshold: {lower: 1.01}\n"
        "        - class_name: AUC\n          threshold:\n            lower: 80\n"
        "        - class_name: Precision\n          threshold: {upper: -0.1}\n"
        "        - class_name: MeanSquaredError\n          threshold:\n            upper: -1\n"
        # Reachable, if hard: a perfect score, or an error of zero.
        "        - class_name: Recall\n          threshold: {lower: 1.0, upper: 1.0}\n"
        "        - class_name: MeanAbsoluteError\n          threshold: {upper: 0}\n"
        "        - class_name: MeanPrediction\n          threshold: {lower: 1000}\n"
        "        - class_name: MyAccuracy\n          module: my_metrics\n"
        "          threshold: {lower: 5}\n"
    ))
    path = write(tmp_path, text)
    never = "so no model would ever be blessed"
    assert errors(path) == [
        f"{path}:{line(text, '1.01')}: components[5].params.metrics[0].threshold.lower: "
        f"lower 1.01 can never be met: SparseCategoricalAccuracy is at most 1, {never}; write "
        "it as a fraction, e.g. 0.0101 for 1.01%",
        f"{path}:{line(text, 'lower: 80')}: components[5].params.metrics[1].threshold.lower: "
        f"lower 80 can never be met: AUC is at most 1, {never}; write it as a fraction, e.g. "
        "0.8 for 80%",
        f"{path}:{line(text, '-0.1')}: components[5].params.metrics[2].threshold.upper: "
        f"upper -0.1 can never be met: Precision is never below 0, {never}",
        f"{path}:{line(text, 'upper: -1')}: components[5].params.metrics[3].threshold.upper: "
        f"upper -1 can never be met: MeanSquaredError is never below 0, {never}",
    ]


def test_keys_missing_from_the_curated_schema(tmp_path: Path) -> None:
    text = pipeline(
        trainer="      label_key: specis\n",
        evaluator=(
            "      label_key: Species\n      slices: [[], [island]]\n      metrics:\n"
            "        - class_name: SparseCategoricalAccuracy\n          threshold:\n"
            "            lower: 0.6\n            slices: [[species], [body_mass]]\n"
        ),
    )
    path = write(tmp_path, text)
    schema = f"is not a feature of the schema {PENGUIN_SCHEMA}"
    assert errors(path) == [
        f"{path}:{line(text, 'specis')}: components[4].params.label_key: label_key 'specis' "
        f"{schema}; did you mean 'species'? Its features: {FEATURES}",
        f"{path}:{line(text, 'Species')}: components[5].params.label_key: label_key "
        f"'Species' {schema}; did you mean 'species'? Its features: {FEATURES}",
        f"{path}:{line(text, 'island')}: components[5].params.slices[1][0]: slice feature key "
        f"'island' {schema}. Its features: {FEATURES}",
        f"{path}:{line(text, 'body_mass]')}: "
        "components[5].params.metrics[0].threshold.slices[1][0]: slice feature key "
        f"'body_mass' {schema}; did you mean 'body_mass_g'? Its features: {FEATURES}",
    ]


def test_inferred_schema_is_not_checked(tmp_path: Path) -> None:
    # Without schema_file SchemaGen infers the schema: its features are known only at run time.
    text = pipeline(trainer="      label_key: specis\n", schema_file=None)
    assert warnings(write(tmp_path, text)) == []


def test_unreadable_curated_schema(tmp_path: Path) -> None:
    broken = tmp_path / "schema.pbtxt"
    broken.write_text('feature {\n  name: "x"\n  typo: INT\n}\n')
    text = pipeline(schema_file=broken)
    [issue] = errors(write(tmp_path, text))
    assert issue.startswith(
        f"{tmp_path / 'p.yaml'}:{line(text, 'schema_file')}: components[2].params.schema_file: "
        f"{broken} is not a TFDV schema in text format (schema.pbtxt): line 3: column 3: "
    )
    assert 'has no field named "typo"' in issue


# --- The shipped configs, the cost, the generated list -------------------------------------

def test_shipped_configs_validate(lockgate_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configs = sorted(str(p) for p in (REPO / "configs").glob("*.yaml"))
    assert main(["validate", *configs]) == 0
    out, err = capsys.readouterr()
    # The pupdates feed is written by `lockgate datagen`, not shipped: a warning only.
    pupdates = REPO / "configs/pupdates.yaml"
    assert f"{pupdates}: ok, but data it reads is missing" in out
    assert f"{pupdates}:{line(pupdates.read_text(), 'input:')}: components[0].params.input: " \
           "warning: input " in err
    # Only data written under LOCKGATE_HOME (by datagen or a feed) may be missing.
    for row in err.splitlines():
        assert ": components[0].params.input: warning: input " in row, row
        assert f"The folder {lockgate_home} does not exist." in row, row

    span = lockgate_home / "data/pupdates/span-1"
    span.mkdir(parents=True)
    (span / "posts.csv").write_text("post_id,likes\n1,2\n")
    assert main(["validate", "--require-data", str(pupdates)]) == 0
    assert capsys.readouterr().err == ""


def test_checks_import_no_tensorflow() -> None:
    """Validation stays cheap: the checks read protobuf text, never TensorFlow."""
    code = (
        "import sys, time\n"
        "from pipelines.loading import check_config\n"
        "start = time.perf_counter()\n"
        f"check_config({str(REPO / 'configs/penguin.yaml')!r})\n"
        "print(time.perf_counter() - start)\n"
        "heavy = {'tensorflow', 'tensorflow_model_analysis', 'tf_keras', 'apache_beam'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 2.0  # about 0.1 s; generous for a loaded 2-core machine


def test_known_metrics_match_the_installed_libraries() -> None:
    registered, keras, versions = current()
    committed = (known_metrics.TFMA_METRICS, known_metrics.KERAS_METRICS)
    assert committed == (frozenset(registered), frozenset(keras)), (
        "stale: run `python -m components.evaluator.gen_known_metrics`"
    )
    assert {"SparseCategoricalAccuracy", "AUC", "ExampleCount", "MeanPrediction"} <= (
        known_metrics.TFMA_METRICS | known_metrics.KERAS_METRICS
    )
    # The committed file is exactly what the generator writes (but for library versions).
    text = Path(known_metrics.__file__).read_text()
    assert text.split('"""', 2)[2] == render(registered, keras, versions).split('"""', 2)[2]


def test_an_authors_checks_may_yield_plain_pairs_and_data_findings(tmp_path: Path) -> None:
    (tmp_path / "hook_steps_checks.py").write_text(
        "from pipelines.sdk import ComponentSpec, Finding, Params\n\n"
        "class P(Params):\n    n: int = 0\n\n"
        "def check(params, ctx):\n"
        "    yield ('n',), 'n is wrong'\n"
        "    yield Finding(('n',), 'the data is not there', data=True)\n\n"
        "SPEC = ComponentSpec(name='Step', version='1', params=P, inputs={}, "
        "outputs={'out': 'Thing'}, executor='x:y', checks=check)\n"
    )
    text = ("pipeline: {name: demo}\ncomponents:\n  - component: hook_steps_checks:SPEC\n"
            "    params:\n      n: 1\n")
    path = write(tmp_path, text)
    assert errors(path) == [f"{path}:5: components[0].params.n: n is wrong"]
    assert errors(path, require_data=True) == [
        f"{path}:5: components[0].params.n: n is wrong",
        f"{path}:5: components[0].params.n: the data is not there",
    ]


# --- user code ---------------------------------------------------------------------------

def test_a_module_file_that_does_not_exist(tmp_path: Path, lockgate_home: Path) -> None:
    text = example_gen(str(PENGUIN_CSV)) + (
        "  - component: SchemaGen\n  - component: Transform\n    params:\n"
        "      module_file: code/preprocessing.py\n")
    config = write(tmp_path, text)
    assert errors(config) == [
        f"{config}:{line(text, 'module_file')}: components[3].params.module_file: "
        f"{tmp_path / 'code/preprocessing.py'} does not exist (relative paths are relative to "
        "the config's folder)"
    ]
