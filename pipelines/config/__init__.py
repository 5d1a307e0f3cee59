"""Pipeline configs: YAML in, frozen pydantic models out, every error reported at once.

``pipelines.loading.load_config`` adds the checks that need the whole pipeline graph.

The names below load on first use, so that a light submodule (``envsubst``) imports without
pydantic: the lineage queries read a config's ``metadata:`` with it and must start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.config.load import parse_config
    from pipelines.config.models import ComponentEntry, PipelineConfig

__all__ = ["ComponentEntry", "PipelineConfig", "parse_config"]


def __getattr__(name: str) -> Any:
    if name == "parse_config":
        from pipelines.config.load import parse_config

        return parse_config
    if name in ("ComponentEntry", "PipelineConfig"):
        from pipelines.config import models

        return getattr(models, name)
    raise AttributeError(f"module 'pipelines.config' has no attribute {name!r}")
