"""Lockgate on Apache Airflow 3: DAGs built from configs, one custom operator per node.

Imports ``airflow.sdk`` and the light config/graph modules only, so DAG files parse fast.
"""

from pipelines.airflow.assets import pushed_model_alias, pushed_model_asset
from pipelines.airflow.dag import ConfigErrors, DagSet, build_dag, build_dags, config_dir
from pipelines.airflow.operator import LockgateNodeOperator, run_node

__all__ = [
    "ConfigErrors",
    "DagSet",
    "LockgateNodeOperator",
    "build_dag",
    "build_dags",
    "config_dir",
    "pushed_model_alias",
    "pushed_model_asset",
    "run_node",
]
