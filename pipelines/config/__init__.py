"""Pipeline configs: YAML in, frozen pydantic models out, every error reported at once.

``pipelines.loading.load_config`` adds the checks that need the whole pipeline graph."""

from pipelines.config.load import parse_config
from pipelines.config.models import ComponentEntry, PipelineConfig

__all__ = ["ComponentEntry", "PipelineConfig", "parse_config"]
