"""Pipeline configs: YAML in, frozen pydantic models out, every error reported at once."""

from pipelines.config.load import load_config
from pipelines.config.models import ComponentEntry, PipelineConfig

__all__ = ["ComponentEntry", "PipelineConfig", "load_config"]
