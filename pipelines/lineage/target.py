"""CONFIG_OR_PIPELINE to what a query needs: the pipeline's name and its ML Metadata store.

A config is read cheaply (YAML and ``${VAR}`` expansion of its ``pipeline:`` and ``metadata:``
sections): the full loader resolves every component, which costs more than the query it
would serve. A bare name means the default store, ``$LOCKGATE_HOME/metadata.sqlite``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.config.envsubst import expand
from pipelines.errors import LockgateError
from pipelines.lineage.connect import OpenStore, open_store


class NotFound(LockgateError):
    """A run, artifact, span or version the store does not have; the message lists what it has."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    pipeline: str | None  # None: every pipeline in the store
    metadata: dict[str, Any] = field(default_factory=dict)  # the config's `metadata:`

    def store(self) -> OpenStore:
        return open_store(self.metadata)


def target(config_or_pipeline: str | None) -> Target:
    """A config file (``*.yaml``, or any existing file) or a pipeline name, or None (all)."""
    if config_or_pipeline is None:
        return Target(None)
    path = Path(config_or_pipeline)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return _from_config(path)
    return Target(config_or_pipeline)


def _from_config(path: Path) -> Target:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LockgateError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise LockgateError(f"{path} is not a pipeline config; run `lockgate validate`")
    data = expand({k: raw.get(k) or {} for k in ("pipeline", "metadata")},
                  lambda key_path, name: None)
    name = data["pipeline"].get("name")
    if not isinstance(name, str):
        raise LockgateError(f"{path} names no pipeline (pipeline.name); run `lockgate validate`")
    return Target(name, dict(data["metadata"]))
