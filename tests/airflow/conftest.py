"""Airflow test setup. Airflow reads AIRFLOW_HOME when first imported and writes airflow.cfg
there, so this points it at a temporary folder before any test module imports Airflow."""

from __future__ import annotations

import os
import tempfile

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="lockgate-airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("LOCKGATE_CONFIG_DIR", None)
