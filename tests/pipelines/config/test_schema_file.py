"""The editor schema in configs/ is generated from the models and must stay in sync."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.config.models import json_schema

SCHEMA = Path(__file__).resolve().parents[3] / "configs" / "config.schema.json"


def test_committed_schema_matches_the_models() -> None:
    assert json.loads(SCHEMA.read_text()) == json_schema(), (
        "configs/config.schema.json is stale: run `make schema`"
    )


def test_schema_knows_every_component() -> None:
    text = SCHEMA.read_text()
    for name in ("ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                 "Transform", "Trainer", "Evaluator", "Pusher"):
        assert f'"const": "{name}"' in text
