"""The DAG files under Airflow's own DagBag: shipped configs, and broken ones beside good ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

from pipelines.airflow import LockgateNodeOperator, pushed_model_alias, pushed_model_asset
from pipelines.loading import load_config
from tests.e2e.configs import REPO, component, config_variant

DAGS = REPO / "dags"
SHIPPED_EDGES = {
    "example_gen": set(),
    "statistics_gen": {"example_gen"},
    "schema_gen": {"statistics_gen"},
    "example_validator": {"statistics_gen", "schema_gen"},
    # Transform reads no anomalies, but must wait for the validator's gate.
    "transform": {"example_gen", "schema_gen", "example_validator"},
    "trainer": {"transform", "schema_gen"},
    "evaluator": {"example_gen", "trainer", "schema_gen"},
    "pusher": {"trainer", "evaluator"},
}
# The penguin demo adds the serving checks: a canary before the Pusher, bulk inference after.
PENGUIN_EDGES = {
    **SHIPPED_EDGES,
    "infra_validator": {"example_gen", "trainer", "evaluator"},
    "pusher": {"trainer", "evaluator", "infra_validator"},
    "bulk_inferrer": {"example_gen", "trainer", "evaluator", "infra_validator"},
}


def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS), include_examples=False)


@pytest.mark.parametrize("name", ["penguin", "pupdates", "penguin_species", "numeric"])
def test_shipped_configs_become_dags(name: str) -> None:
    bag = dagbag()
    assert bag.import_errors == {}
    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert {load_config(c).name for c in configs} == set(bag.dag_ids)

    dag = bag.dags[name]
    config = REPO / "configs" / f"{name}.yaml"
    # Every pipeline but penguin chains the same eight components with the same default wiring.
    edges = PENGUIN_EDGES if name == "penguin" else SHIPPED_EDGES
    assert {t.task_id: t.upstream_task_ids for t in dag.tasks} == edges
    settings = yaml.safe_load(config.read_text())["airflow"]
    for task in dag.tasks:
        assert isinstance(task, LockgateNodeOperator)
        assert task.retries == settings["retries"]
        assert task.retry_delay.total_seconds() == settings["retry_delay_seconds"]
        assert task.owner == "lockgate"
        assert task.do_xcom_push is False
        assert (task.config_path, task.pipeline_node) == (str(config), task.task_id)
    assert dag.schedule == settings["schedule"]
    assert dag.tags == set(settings["tags"])
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.fileloc == str(DAGS / "lockgate_dags.py")
    description = yaml.safe_load(config.read_text())["pipeline"]["description"]
    assert description.split("\n")[0] in (dag.doc_md or "")
    assert "| `transform` | Transform | `example_gen`, `example_validator`, `schema_gen` |" in (
        dag.doc_md or ""
    )
    # Only the Pusher has an outlet: the alias through which it updates the pushed-model Asset
    # when it pushes a new version, so a downstream DAG can wait for new models.
    outlets = {t.task_id: t.outlets for t in dag.tasks if t.outlets}
    assert outlets == {"pusher": [pushed_model_alias(name, name)]}
    downstream = DAG(f"serve_{name}", schedule=[pushed_model_asset(name, name)])
    assert f"lockgate://{name}/{name}" in repr(downstream.timetable.asset_condition)


def test_yaml_settings_reach_the_dag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tune(config: dict[str, Any]) -> None:
        config["pipeline"]["name"] = "tuned"
        config["airflow"] = {"schedule": "@daily", "start_date": "2025-03-01", "catchup": True,
                             "retries": 4, "retry_delay_seconds": 7, "owner": "ml-team",
                             "tags": ["nightly"], "max_active_runs": 2}

    config_variant(tmp_path, tune)
    monkeypatch.setenv("LOCKGATE_CONFIG_DIR", str(tmp_path))
    dag = dagbag().dags["tuned"]
    assert (dag.catchup, dag.max_active_runs, dag.tags) == (True, 2, {"nightly"})
    assert dag.schedule == "@daily"
    assert dag.start_date is not None
    assert dag.start_date.isoformat() == "2025-03-01T00:00:00+00:00"
    task = dag.get_task("trainer")
    assert (task.retries, task.retry_delay.total_seconds(), task.owner) == (4, 7, "ml-team")


BROKEN = """\
pipeline:
  name: broken
components:
  - component: ExampleGen
    params: {input: data.csv}
  - component: StatisticGen
"""


def test_broken_configs_are_one_import_error_and_hide_no_dag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_variant(tmp_path)  # a good penguin config
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "wired.yaml").write_text(
        BROKEN.replace("broken", "wired").replace("StatisticGen", "SchemaGen\n    inputs: "
                                                  "{statistics: nowhere.statistics}")
    )
    # Valid for Lockgate, invalid for Airflow: DagBag's own check would otherwise make it an
    # import error of lockgate_dags.py, hiding penguin too.
    (tmp_path / "cron.yaml").write_text(
        BROKEN.replace("broken", "cron").replace("StatisticGen", "StatisticsGen")
        + "airflow:\n  schedule: every day at 3\n"
    )
    monkeypatch.setenv("LOCKGATE_CONFIG_DIR", str(tmp_path))
    bag = dagbag()

    assert bag.dag_ids == ["penguin"]
    assert bag.dags["penguin"].fileloc == str(DAGS / "lockgate_dags.py")
    [(path, error)] = bag.import_errors.items()
    # Airflow keys import errors by file, and hides every DAG of a file that has one (it marks
    # them stale), so the errors belong to the file that defines no DAG.
    assert Path(path).name == "lockgate_config_errors.py"
    assert f"{tmp_path / 'broken.yaml'}:6: components[1].component: unknown component " \
           "'StatisticGen'; did you mean 'StatisticsGen'?" in error
    assert f"{tmp_path / 'wired.yaml'}:7: components[1].inputs.statistics: no node " \
           "'nowhere'" in error
    assert f"{tmp_path / 'cron.yaml'}:8: airflow.schedule: invalid schedule 'every day at 3'" \
           in error
    assert "3 Lockgate config(s) could not become DAGs" in error


def test_duplicate_pipeline_names_are_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_variant(tmp_path, name="a")
    config_variant(tmp_path, lambda c: component(c, "Pusher").update(name="pusher"), name="b")
    monkeypatch.setenv("LOCKGATE_CONFIG_DIR", str(tmp_path))
    bag = dagbag()
    assert bag.dag_ids == ["penguin"]
    [error] = bag.import_errors.values()
    assert f"{tmp_path / 'b.yaml'}: pipeline.name: 'penguin' is also the name of" in error
