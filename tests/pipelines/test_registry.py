"""Finding components: registered names (entry points) and the author's import paths.

Every broken custom component is reported by ``load_config`` as ``file:line: key: message``
naming the module and what to do. Each test writes its own uniquely named module, since
Python keeps an imported module for the rest of the process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.errors import ConfigError
from pipelines.loading import load_config
from pipelines.registry import registered, spec_for

STANDARD = ["BulkInferrer", "Evaluator", "ExampleGen", "ExampleValidator", "InfraValidator",
            "Pusher", "SchemaGen", "StatisticsGen", "Trainer", "Transform"]

STEP = '''
from pipelines.sdk import ExecutionContext, ExecutorResult, Params, component

class P(Params):
    factor: int = 1

@component(params=P, inputs={"examples": "Examples"}, outputs={"scores": "Scores"})
def score(ctx: ExecutionContext) -> ExecutorResult:
    return ExecutorResult()
'''


def config(tmp_path: Path, component: str, params: str = "") -> Path:
    """ExampleGen, then ``component`` (its entry starts on line 7)."""
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    text = (
        "pipeline:\n  name: demo\ncomponents:\n  - component: ExampleGen\n"
        "    params: {input: data.csv}\n\n"
        f"  - component: {component}\n" + (f"    params:\n{params}" if params else "")
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def issue(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [found] = caught.value.issues
    return str(found)


def module(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return path


def test_standard_components_register_through_entry_points() -> None:
    assert sorted(registered()) == STANDARD
    assert spec_for("Trainer").name == "Trainer"


def test_an_unknown_name_suggests_a_registered_one(tmp_path: Path) -> None:
    message = issue(config(tmp_path, "Trainr"))
    assert message.startswith(f"{tmp_path / 'p.yaml'}:7: components[1].component: unknown "
                              "component 'Trainr'; did you mean 'Trainer'?")
    assert "my_pipeline.steps:bulk_score" in message


def test_a_custom_component_loads_beside_the_config(tmp_path: Path) -> None:
    module(tmp_path, "steps_ok", STEP)
    loaded = load_config(config(tmp_path, "steps_ok:score", "      factor: 3\n"))
    entry = loaded.components[1]
    assert entry.node_id == "score"
    assert entry.spec.name == "Score"
    assert entry.spec.module_file == str(tmp_path / "steps_ok.py")
    assert entry.params.factor == 3


def test_custom_params_are_validated_with_their_line(tmp_path: Path) -> None:
    module(tmp_path, "steps_params", STEP)
    message = issue(config(tmp_path, "steps_params:score", "      factr: 3\n"))
    assert message.startswith(f"{tmp_path / 'p.yaml'}:9: components[1].params.factr: unknown "
                              "key; did you mean 'factor'?")


def test_an_import_path_that_does_not_exist(tmp_path: Path) -> None:
    message = issue(config(tmp_path, "no_such_pipeline.steps:score"))
    assert message.startswith(f"{tmp_path / 'p.yaml'}:7: components[1].component: no module "
                              "named 'no_such_pipeline'")
    assert str(tmp_path) in message  # where it looked


def test_a_module_that_fails_to_import(tmp_path: Path) -> None:
    path = module(tmp_path, "steps_broken", "import json\nraise RuntimeError('bad config')\n")
    message = issue(config(tmp_path, "steps_broken:score"))
    assert ":7: components[1].component: module steps_broken failed to import: " in message
    assert f"RuntimeError: bad config ({path}:2)" in message


def test_a_module_with_a_syntax_error(tmp_path: Path) -> None:
    path = module(tmp_path, "steps_syntax", "def score(ctx:\n")
    message = issue(config(tmp_path, "steps_syntax:score"))
    assert ":7: components[1].component: module steps_syntax failed to import: SyntaxError" \
        in message
    assert f"({path}:1)" in message


def test_a_missing_dependency_is_not_a_missing_module(tmp_path: Path) -> None:
    module(tmp_path, "steps_dep", "import no_such_dependency_xyz\n")
    message = issue(config(tmp_path, "steps_dep:score"))
    assert ":7: components[1].component: module steps_dep failed to import: " \
        "ModuleNotFoundError" in message
    assert "no_such_dependency_xyz" in message


def test_a_wrong_executor_signature(tmp_path: Path) -> None:
    module(tmp_path, "steps_sig", STEP.replace("def score(ctx: ExecutionContext)",
                                               "def score(ctx: ExecutionContext, extra: int)"))
    message = issue(config(tmp_path, "steps_sig:score"))
    assert ":7: components[1].component: module steps_sig: component 'Score' is not well " \
           "defined: its executor score(ctx, extra) must take exactly one argument" in message
    assert "must take exactly one argument, the ExecutionContext" in message


def test_a_name_the_module_does_not_define(tmp_path: Path) -> None:
    module(tmp_path, "steps_missing", STEP)
    message = issue(config(tmp_path, "steps_missing:scores"))
    assert ":7: components[1].component: " in message
    assert "defines no 'scores'; components it defines: score" in message


def test_a_plain_function_is_not_a_component(tmp_path: Path) -> None:
    module(tmp_path, "steps_plain", "def score(ctx):\n    return None\n")
    message = issue(config(tmp_path, "steps_plain:score"))
    assert ":7: components[1].component: " in message
    assert "steps_plain:score is a function, not a component; decorate the function with " \
           "@component(...) from pipelines.sdk" in message


def test_an_undeclared_input_type_wiring_is_a_graph_error(tmp_path: Path) -> None:
    module(tmp_path, "steps_wiring", STEP.replace('inputs={"examples": "Examples"}',
                                                  'inputs={"model": "Model"}'))
    message = issue(config(tmp_path, "steps_wiring:score"))
    assert ":7: components[1]: Score needs an input 'model' of type Model" in message


def test_a_namesake_module_from_another_folder_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        folder.mkdir()
        module(folder, "steps_twin", STEP)
    load_config(config(first, "steps_twin:score"))
    message = issue(config(second, "steps_twin:score"))
    assert f"module 'steps_twin' was already imported from {first / 'steps_twin.py'}" in message
    assert "give this one a distinct package name" in message
