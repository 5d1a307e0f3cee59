"""Lockgate's standard components. Importing this package is cheap: it loads only the specs
(pydantic parameter models and typed ports). Executors load when a node actually runs."""

from __future__ import annotations

from components.evaluator import SPEC as EVALUATOR
from components.example_gen import SPEC as EXAMPLE_GEN
from components.example_validator import SPEC as EXAMPLE_VALIDATOR
from components.pusher import SPEC as PUSHER
from components.schema_gen import SPEC as SCHEMA_GEN
from components.statistics_gen import SPEC as STATISTICS_GEN
from components.trainer import SPEC as TRAINER
from components.transform import SPEC as TRANSFORM
from pipelines.component import ComponentSpec

REGISTRY: dict[str, ComponentSpec] = {
    spec.name: spec
    for spec in (
        EXAMPLE_GEN,
        STATISTICS_GEN,
        SCHEMA_GEN,
        EXAMPLE_VALIDATOR,
        TRANSFORM,
        TRAINER,
        EVALUATOR,
        PUSHER,
    )
}
