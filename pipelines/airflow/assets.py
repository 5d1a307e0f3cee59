"""The Asset a Pusher's new model version updates, and the alias its task emits it through.

A task's outlet Asset gets an event whenever the task succeeds, also when the Pusher pushed
nothing new (the model was already serving, or the node was a cache hit). So the Pusher task
declares an ``AssetAlias`` instead and adds an event to the Asset only for a new version: a DAG
scheduled on the Asset runs once per new model.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias


def pushed_model_asset(pipeline: str, model_name: str) -> Asset:
    """The Asset of a pipeline's served model; schedule a DAG on it to react to new versions."""
    return Asset(name=f"lockgate.{pipeline}.{model_name}", uri=f"lockgate://{pipeline}/{model_name}")


def pushed_model_alias(pipeline: str, model_name: str) -> AssetAlias:
    """The Pusher task's outlet: it adds an event to ``pushed_model_asset`` per new version."""
    return AssetAlias(name=f"lockgate.{pipeline}.{model_name}.pushes")
