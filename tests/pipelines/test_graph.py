"""Wiring: default inputs by type, explicit wires, and every wiring mistake as a config error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config.load import parse_config
from pipelines.errors import ConfigError
from pipelines.graph import build_pipeline
from pipelines.loading import load_config

HEAD = "pipeline: {name: demo}\ncomponents:\n"
GEN = "  - component: ExampleGen\n    params: {input: d.csv}\n"


def build(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + body)
    return build_pipeline(parse_config(path))


def test_penguin_wiring(penguin_config: Path) -> None:
    pipeline = build_pipeline(load_config(penguin_config))
    assert pipeline.order == [
        "example_gen", "statistics_gen", "schema_gen", "example_validator",
        "transform", "trainer", "evaluator", "infra_validator", "pusher", "bulk_inferrer",
    ]
    wires = {
        (node.id, c.name): f"{c.producer}.{c.output}"
        for node in pipeline.nodes.values() for c in node.channels
    }
    assert wires[("trainer", "examples")] == "transform.transformed_examples"
    assert wires[("evaluator", "examples")] == "example_gen.examples"  # raw data, not transformed
    assert wires[("evaluator", "baseline_model")] == "None.None"  # resolved from MLMD
    assert wires[("pusher", "infra_blessing")] == "infra_validator.infra_blessing"
    assert wires[("bulk_inferrer", "examples")] == "example_gen.examples"
    assert pipeline.downstream_of("transform") == {
        "trainer", "evaluator", "infra_validator", "pusher", "bulk_inferrer"}


def test_missing_producer_is_reported_with_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, "  - component: StatisticsGen\n")
    [issue] = caught.value.issues
    assert issue.line == 3
    assert "needs an input 'examples' of type Examples" in issue.message


def test_explicit_wire_errors(tmp_path: Path) -> None:
    body = GEN + (
        "  - component: StatisticsGen\n    inputs: {examples: example_gen.exampels}\n"
        "  - component: SchemaGen\n    inputs: {statistics: example_gen.examples, stats: x.y}\n"
    )
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, body)
    messages = [(i.line, i.message) for i in caught.value.issues]
    assert (6, "node 'example_gen' has no output 'exampels'; its outputs are examples") in messages
    assert any(line == 8 and "is Examples, but this input takes ExampleStatistics" in m
               for line, m in messages)
    assert any("SchemaGen has no input 'stats'" in m for _, m in messages)


def test_duplicate_node_ids(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="duplicate node id 'example_gen'"):
        build(tmp_path, GEN + GEN)


def test_cycle_is_an_error(tmp_path: Path) -> None:
    body = (
        "  - component: StatisticsGen\n    name: a\n    inputs: {schema: c.schema, "
        "examples: t.transformed_examples}\n"
        "  - component: SchemaGen\n    name: c\n    inputs: {statistics: a.statistics}\n"
        "  - component: Transform\n    name: t\n    params: {module_file: m.py}\n"
        "    inputs: {examples: t.transformed_examples, schema: c.schema}\n"
    )
    with pytest.raises(ConfigError, match="cycle"):
        build(tmp_path, body)
