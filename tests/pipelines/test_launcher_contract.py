"""The launcher holds every component, the author's included, to the same contract: it returns
an ExecutorResult, writes every output it declares and no other, halts only if its spec says it
may; and a failure keeps its whole traceback beside the execution, with the author's frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.graph import build_pipeline
from pipelines.launcher import NodeFailed, launch
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore

STEPS = '''
from pipelines.sdk import ExecutionContext, ExecutorResult, Params, component
from {helpers} import explode

class P(Params):
    mode: str = "ok"

@component(params=P, outputs={{"report": "Report", "extra": "Report"}})
def step(ctx: ExecutionContext):
    mode = ctx.params.mode
    (ctx.outputs["report"].path / "r.txt").write_text("r")
    if mode == "undeclared":
        (ctx.outputs["other"].path / "x").write_text("x")
    if mode != "missing_output":
        (ctx.outputs["extra"].path / "e.txt").write_text("e")
    if mode == "none":
        return None
    if mode == "halt":
        return ExecutorResult(outcome="halted", message="stop")
    if mode == "raise":
        explode(3)
    return ExecutorResult(message="done")
'''
HELPERS = '''
def explode(depth):
    if depth == 0:
        values = {"a": 1}
        return values["missing_key"]
    return explode(depth - 1)
'''


def pipeline_with(tmp_path: Path, mode: str) -> Path:
    """A one-node pipeline whose step behaves as ``mode`` says; unique module names per test."""
    name = f"contract_{tmp_path.name[-12:].replace('-', '_')}"
    (tmp_path / f"{name}_helpers.py").write_text(HELPERS)
    (tmp_path / f"{name}.py").write_text(STEPS.format(helpers=f"{name}_helpers"))
    config = tmp_path / "p.yaml"
    config.write_text(f"pipeline: {{name: contract}}\ncomponents:\n"
                      f"  - component: {name}:step\n    params: {{mode: {mode}}}\n")
    return config


def failure(tmp_path: Path, mode: str) -> NodeFailed:
    config = pipeline_with(tmp_path, mode)
    pipeline = build_pipeline(load_config(config))
    with pytest.raises(NodeFailed) as caught:
        launch(pipeline, "step", "r1")
    assert caught.value.config_line == f"{config}:3"  # the entry that names the component
    [execution] = LineageStore(pipeline.config.metadata).run_executions("contract", "r1")
    assert execution.state == "FAILED"
    return caught.value


def test_a_well_behaved_step_completes(tmp_path: Path) -> None:
    pipeline = build_pipeline(load_config(pipeline_with(tmp_path, "ok")))
    result = launch(pipeline, "step", "r1")
    assert result.status == "complete"
    assert sorted(result.outputs) == ["extra", "report"]


def test_an_undeclared_output(tmp_path: Path) -> None:
    message = str(failure(tmp_path, "undeclared"))
    [module] = [p for p in tmp_path.glob("contract_*.py") if not p.stem.endswith("_helpers")]
    assert f"component 'Step' ({module}) wrote to output 'other', which its spec does not " \
           "declare (it declares report, extra)" in message


def test_a_declared_output_left_empty(tmp_path: Path) -> None:
    message = str(failure(tmp_path, "missing_output"))
    assert "component 'Step' declares output(s) extra but wrote nothing there" in message
    assert not list(tmp_path.rglob("r.txt"))  # nothing of the failed execution is published


def test_a_result_that_is_not_an_executor_result(tmp_path: Path) -> None:
    message = str(failure(tmp_path, "none"))
    assert "the executor of component 'Step' returned NoneType, not an ExecutorResult" in message


def test_halting_needs_may_halt(tmp_path: Path) -> None:
    message = str(failure(tmp_path, "halt"))
    assert "component 'Step' halted the run, but its spec does not say it may; add " \
           "may_halt=True" in message


def test_the_whole_traceback_is_kept_with_the_authors_frame(
    tmp_path: Path, lockgate_home: Path
) -> None:
    failed = failure(tmp_path, "raise")
    helpers = next(tmp_path.glob("contract_*_helpers.py"))
    assert failed.author_frame == (f"{helpers}:5 in explode: return values[\"missing_key\"]")
    assert failed.log_path == (lockgate_home / "pipelines" / "contract" / "step" / "executions"
                               / str(failed.execution_id) / "error.log")
    log = failed.log_path.read_text()
    assert log.count("in explode") == 4 and log.rstrip().endswith("KeyError: 'missing_key'")
    store = LineageStore(build_pipeline(load_config(tmp_path / "p.yaml")).config.metadata)
    [execution] = store.mlmd.get_executions_by_id([failed.execution_id or 0])
    props = execution.custom_properties
    assert props["log_path"].string_value == str(failed.log_path)
    # MLMD keeps the end of the traceback, where the exception line is.
    assert props["traceback"].string_value.rstrip().endswith("KeyError: 'missing_key'")
    assert props["author_frame"].string_value == failed.author_frame


def test_the_console_shows_the_authors_frame_and_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(pipeline_with(tmp_path, "raise")), "--run-id", "r9"]) == 1
    out = "".join(capsys.readouterr().out.split())  # the console wraps long lines anywhere
    helpers = next(tmp_path.glob("contract_*_helpers.py"))
    assert f"KeyError:'missing_key'at{helpers}:5inexplode" in out
    assert f"nodedefinedat{tmp_path / 'p.yaml'}:3" in out
    assert "Fulltraceback:" in out and "/executions/1/error.log" in out
    assert "--resumer9" in out


TEMPLATED = '''
from pathlib import Path
from pipelines.sdk import ExecutionContext, ExecutorResult, component

@component(inputs={"examples": "Examples"}, outputs={"page": "Report"},
           code_files=("template.html",))
def render(ctx: ExecutionContext) -> ExecutorResult:
    template = Path(__file__).with_name("template.html").read_text()
    (ctx.outputs["page"].path / "page.html").write_text(template)
    return ExecutorResult()
'''


def test_files_a_spec_declares_are_in_the_cache_key(tmp_path: Path) -> None:
    """A template the component reads is code too: editing it re-runs the node."""
    name = f"templated_{tmp_path.name[-12:].replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(TEMPLATED)
    template = tmp_path / "template.html"
    template.write_text("<p>v1</p>")
    config = tmp_path / "p.yaml"
    config.write_text("pipeline: {name: templated}\ncomponents:\n"
                      "  - component: tests.pipelines.fake_components:PRODUCER\n"
                      f"  - component: {name}:render\n")
    pipeline = build_pipeline(load_config(config))

    def render(run_id: str) -> str:
        launch(pipeline, "fake_gen", run_id)
        return launch(pipeline, "render", run_id).status

    assert render("r1") == "complete"
    assert render("r2") == "cached"
    template.write_text("<p>v2</p>")
    assert render("r3") == "complete"
