"""Lockgate: TFX-style ML pipelines on Apache Airflow 3 with ML Metadata lineage.

This package is the framework. It imports only light libraries at module level; TensorFlow,
Beam, TFDV, TFT, TFMA and ml-metadata are imported inside the functions that need them, so the
Airflow scheduler can parse a Lockgate DAG in milliseconds.
"""

__version__ = "0.1.0"
