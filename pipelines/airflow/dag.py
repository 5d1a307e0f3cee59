"""Build Airflow DAGs from Lockgate configs: one task per node, edges from the pipeline graph.

Everything here runs in the scheduler's DAG processor on every parse, so it reads YAML and
builds pydantic models only: no TensorFlow, Beam, TFDV, TFT, TFMA or ml-metadata is imported
(``tests/airflow/test_parse_cost.py`` checks it in a fresh interpreter).

Broken configs and Airflow's import errors. Airflow 3 keys import errors by DAG *file*, and the
DAG processor marks every DAG defined in a file that has an import error as stale (hidden in the
UI and never scheduled). So a broken config must not raise in the file that defines the good
DAGs. ``dags/lockgate_dags.py`` defines one DAG per valid config and never raises for a config
problem; ``dags/lockgate_config_errors.py`` defines no DAG and raises one ``ConfigErrors``
naming every broken config's file and line, which Airflow shows as that file's import error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import AssetAlias
from airflow.sdk.exceptions import AirflowTimetableInvalid

from pipelines.airflow.assets import pushed_model_alias
from pipelines.airflow.dag_test import LockgateDAG
from pipelines.airflow.operator import LockgateNodeOperator
from pipelines.config import PipelineConfig
from pipelines.config.load import issue_at, parse_config
from pipelines.errors import ConfigError, ConfigIssue, LockgateError
from pipelines.graph import Pipeline, build_pipeline

CONFIG_DIR_ENV = "LOCKGATE_CONFIG_DIR"


def config_dir(dag_file: str | Path) -> Path:
    """``$LOCKGATE_CONFIG_DIR``, else the ``configs/`` folder beside the DAG file's folder."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(dag_file).resolve().parent.parent / "configs"


def build_dag(config_path: str | Path) -> LockgateDAG:
    """The DAG for one config; raises ``ConfigError`` (file, line, key) when it is invalid.

    The DAG is validated as Airflow's DagBag would: a problem found there instead would become
    an import error of the DAG file, and so hide every other pipeline's DAG.
    """
    config = parse_config(config_path)
    dag = dag_for_pipeline(build_pipeline(config))
    try:
        dag.validate()
    except AirflowTimetableInvalid as exc:
        raise ConfigError([issue_at(
            config, ("airflow", "schedule"),
            f"invalid schedule {config.airflow.schedule!r} ({exc}); write a cron expression "
            "such as '0 3 * * *', a preset such as '@daily', or null for manual runs only",
        )]) from None
    return dag


def dag_for_pipeline(pipeline: Pipeline) -> LockgateDAG:
    """One ``LockgateNodeOperator`` per node, settings from the config's ``airflow:`` section."""
    config = pipeline.config
    settings = config.airflow
    dag = LockgateDAG(
        dag_id=pipeline.name,
        description=_first_line(config.pipeline.description),
        doc_md=_doc_md(pipeline),
        schedule=settings.schedule,
        start_date=datetime.combine(settings.start_date, datetime.min.time(), tzinfo=UTC),
        catchup=settings.catchup,
        max_active_runs=settings.max_active_runs,
        tags=list(settings.tags),
        default_args={
            "owner": settings.owner,
            "retries": settings.retries,
            "retry_delay": timedelta(seconds=settings.retry_delay_seconds),
        },
    )
    tasks = {
        node_id: LockgateNodeOperator(
            task_id=node_id,
            config_path=str(config.source),
            pipeline_node=node_id,
            outlets=_outlets(pipeline, node_id),
            doc_md=node.spec.description or None,
            dag=dag,
        )
        for node_id, node in ((n, pipeline.nodes[n]) for n in pipeline.order)
    }
    for node_id, upstream in task_upstream(pipeline).items():
        for parent in sorted(upstream):
            tasks[parent] >> tasks[node_id]
    return dag


def task_upstream(pipeline: Pipeline) -> dict[str, set[str]]:
    """Each task's upstream tasks: the node's data upstream, plus the gate before it.

    A gate is a component whose spec says ``may_halt``. The local runner stops at a halt and
    runs nodes in order, so in Airflow every later node must wait for the gate too, not only
    its data consumers: Transform reads ExampleGen's examples and SchemaGen's schema, never the
    validator's anomalies. A gate gets an edge to each later node that has no data upstream
    after the gate; the rest wait for the gate through those.
    """
    order = pipeline.order
    upstream = {n: set(pipeline.nodes[n].upstream) for n in order}
    for position, gate in enumerate(order):
        if not pipeline.nodes[gate].spec.may_halt:
            continue
        later = order[position + 1:]
        for node_id in later:
            if not upstream[node_id] & set(later):
                upstream[node_id].add(gate)
    return upstream


def _outlets(pipeline: Pipeline, node_id: str) -> list[AssetAlias]:
    node = pipeline.nodes[node_id]
    if "PushedModel" not in node.spec.outputs.values():
        return []
    model_name = getattr(node.entry.params, "model_name", None) or pipeline.name
    return [pushed_model_alias(pipeline.name, model_name)]


def _first_line(text: str) -> str | None:
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def _doc_md(pipeline: Pipeline) -> str:
    config: PipelineConfig = pipeline.config
    lines = [f"# {pipeline.name}", "", config.pipeline.description.strip(), "",
             f"Config: `{config.source}`", "", "| task (node) | component | runs after |",
             "|---|---|---|"]
    for node_id, upstream in task_upstream(pipeline).items():
        after = ", ".join(f"`{u}`" for u in sorted(upstream)) or "-"
        lines.append(f"| `{node_id}` | {pipeline.nodes[node_id].spec.name} | {after} |")
    return "\n".join(lines)


class ConfigErrors(LockgateError):
    """One or more configs in the config folder could not become DAGs."""

    def __init__(self, errors: dict[Path, str]) -> None:
        self.errors = errors
        blocks = [
            message if message.startswith(str(path)) else f"{path}: {message}"
            for path, message in errors.items()
        ]
        super().__init__(
            f"{len(errors)} Lockgate config(s) could not become DAGs; the other DAGs are "
            "unaffected. Fix each file at the line shown:\n\n" + "\n\n".join(blocks)
        )


@dataclass
class DagSet:
    """What one config folder yields: a DAG per valid config, an error per broken one."""

    dags: dict[str, LockgateDAG] = field(default_factory=dict)
    errors: dict[Path, str] = field(default_factory=dict)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)


def build_dags(config_dir: str | Path, pattern: str = "*.yaml") -> DagSet:
    """A DAG for every config in ``config_dir``; a broken config never stops the others."""
    folder = Path(config_dir)
    found = DagSet()
    if not folder.is_dir():
        found.errors[folder] = f"config folder {folder} does not exist; set ${CONFIG_DIR_ENV}"
        return found
    sources: dict[str, Path] = {}
    for path in _configs(folder, pattern):
        try:
            dag = build_dag(path)
            if dag.dag_id in sources:
                raise ConfigError([ConfigIssue(
                    str(path), None, "pipeline.name",
                    f"'{dag.dag_id}' is also the name of {sources[dag.dag_id]}; pipeline names "
                    "are DAG ids and must be unique",
                )])
        except ConfigError as exc:
            found.errors[path] = str(exc)
            continue
        except Exception as exc:  # a bug must not hide the other pipelines' DAGs either
            found.errors[path] = f"{path}: {type(exc).__name__}: {exc}"
            continue
        sources[dag.dag_id] = path
        found.dags[dag.dag_id] = dag
    return found


def _configs(folder: Path, pattern: str) -> Iterable[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file())
