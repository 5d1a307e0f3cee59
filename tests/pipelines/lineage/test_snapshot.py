"""The launcher records what lineage needs: the config snapshot, the code files it hashed
and the report paths, on every execution, for local and Airflow-style runs alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from pipelines.component import Artifact
from pipelines.graph import Pipeline
from pipelines.launcher import launch
from pipelines.lineage.snapshot import HASH, PATH, SOURCE, expanded_text
from pipelines.lineage.summary import gate_lines
from pipelines.metadata.store import LineageStore
from tests.pipelines.fake_components import fake_pipeline


def with_source(pipeline: Pipeline, path: Path) -> Pipeline:
    path.write_text("pipeline:\n  name: fake\n  root: ${LOCKGATE_HOME}/p  # comment\n"
                    "components:\n  - component: StatisticsGen\n")
    pipeline.config._source = path
    return pipeline


def test_every_execution_names_the_expanded_config_it_ran_with(
    lockgate_home: Path, tmp_path: Path
) -> None:
    pipeline = with_source(fake_pipeline(), tmp_path / "fake.yaml")
    launch(pipeline, "gen", "run-1")
    launch(pipeline, "stats", "run-1")
    store = LineageStore(pipeline.config.metadata)
    executions = store.mlmd.get_executions()
    paths = {e.custom_properties[PATH].string_value for e in executions}
    [snapshot] = paths  # both nodes: one content-addressed file
    text = Path(snapshot).read_text()
    assert str(lockgate_home) in text and "${LOCKGATE_HOME}" not in text  # expanded
    assert yaml.safe_load(text)["pipeline"]["name"] == "fake"
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert {e.custom_properties[HASH].string_value for e in executions} == {digest}
    run = store.mlmd.get_context_by_type_and_name("pipeline_run", "fake.run-1")
    assert run.custom_properties[PATH].string_value == snapshot
    assert run.custom_properties[SOURCE].string_value == str(tmp_path / "fake.yaml")

    (tmp_path / "fake.yaml").write_text((tmp_path / "fake.yaml").read_text() + "cache: true\n")
    launch(pipeline, "gen", "run-2")
    newest = store.mlmd.get_executions()[-1]
    assert newest.custom_properties[PATH].string_value != snapshot  # a new config, a new file
    assert Path(snapshot).read_text() == text  # the old one is kept


def test_the_expanded_text_keeps_the_key_order(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("b: 1\na: ${NOPE:-two}\n")
    assert expanded_text(path).splitlines()[1:] == ["b: 1", "a: two"]


def test_code_files_and_reports_are_recorded(lockgate_home: Path, tmp_path: Path) -> None:
    module = tmp_path / "steps.py"
    helper = tmp_path / "helper.py"
    helper.write_text("X = 1\n")
    module.write_text("import helper\n")
    pipeline = fake_pipeline()
    spec = pipeline.nodes["gen"].spec
    object.__setattr__(spec, "module_file", str(module))
    try:
        launch(pipeline, "gen", "code")
    finally:
        object.__setattr__(spec, "module_file", None)
    store = LineageStore(pipeline.config.metadata)
    [execution] = store.mlmd.get_executions()
    import json

    code = json.loads(execution.custom_properties["code_files"].string_value)
    assert set(code) == {str(module.resolve()), str(helper.resolve())}


def test_the_console_gate_lines(tmp_path: Path) -> None:
    blessing = tmp_path / "blessing"
    blessing.mkdir()
    (blessing / "blessing.json").write_text(
        '{"blessed": true, "baseline_model_id": 7, "failures": [], "thresholds": '
        '[{"metric": "Acc", "lower": 0.6, "change": {"direction": "higher_is_better", '
        '"absolute": 0}}]}')
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    (evaluation / "summary.json").write_text(
        '{"slices": {"overall": {"acc": {"value": 0.98, "baseline": 0.97, "change": 0.01}}}}')
    outputs = {"blessing": [Artifact("ModelBlessing", str(blessing))],
               "evaluation": [Artifact("ModelEvaluation", str(evaluation))]}
    pushed = {"pushed_model": [Artifact("PushedModel", "x", properties={
        "model_name": "penguin", "version": 3, "new_version": 1})]}
    again = {"pushed_model": [Artifact("PushedModel", "x", properties={
        "model_name": "penguin", "version": 2, "new_version": 0})]}
    assert gate_lines([("evaluator", "complete", "", outputs),
                       ("pusher", "complete", "", pushed),
                       ("pusher", "complete", "", again),
                       ("pusher", "skipped", "not blessed: acc 0.5 < 0.6", {})]) == [
        "evaluator: blessed: acc 0.98 >= 0.6; acc +0.01 vs model 7 (>= +0)",
        "pusher: pushed penguin version 3",
        "pusher: already serving penguin version 2; not pushed",
        "pusher: not pushed: not blessed: acc 0.5 < 0.6",
    ]
