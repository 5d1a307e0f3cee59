"""Surfaces every broken Lockgate config as this file's Airflow import error (file and line).

It defines no DAG: Airflow hides every DAG of a file that has an import error, so the errors
live here and the good DAGs live in lockgate_dags.py.
"""

from pipelines.airflow import build_dags, config_dir

build_dags(config_dir(__file__)).raise_for_errors()
