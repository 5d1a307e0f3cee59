"""Airflow DAGs for Lockgate: one per configs/*.yaml ($LOCKGATE_CONFIG_DIR overrides the folder).

A broken config never raises here, so it cannot hide the other DAGs; its error (file and line)
is this folder's other file's import error: see lockgate_config_errors.py.
"""

from pipelines.airflow import build_dags, config_dir

globals().update(build_dags(config_dir(__file__)).dags)
