"""The pipeline graph: component nodes whose inputs are wired to upstream outputs.

Building the graph is where wiring mistakes surface: an input nobody produces, a wire to a
missing node or output, a type mismatch, a duplicate node id or a cycle. Each is a
``ConfigError`` pointing at the line of the entry that caused it.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, replace
from functools import cached_property

from pipelines.component import UNWIRED_RESOLVERS, ComponentSpec, InputSpec
from pipelines.config.models import ComponentEntry, PipelineConfig
from pipelines.errors import ConfigError, ConfigIssue


@dataclass(frozen=True)
class Channel:
    """One input of a node: where its artifacts come from."""

    name: str
    spec: InputSpec
    producer: str | None  # upstream node id; None for resolver inputs with no wire
    output: str | None


@dataclass(frozen=True)
class Node:
    id: str
    entry: ComponentEntry
    spec: ComponentSpec
    channels: tuple[Channel, ...]

    @property
    def upstream(self) -> set[str]:
        return {c.producer for c in self.channels if c.producer}


@dataclass(frozen=True)
class Pipeline:
    config: PipelineConfig
    nodes: dict[str, Node]

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def order(self) -> list[str]:
        """Node ids in a topological order that keeps the config's order where it can."""
        sorter = graphlib.TopologicalSorter({n.id: n.upstream for n in self.nodes.values()})
        sorter.prepare()
        position = {node_id: i for i, node_id in enumerate(self.nodes)}
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            order.extend(ready)
            sorter.done(*ready)
        return order

    def upstream_of(self, node_id: str) -> set[str]:
        """Every node ``node_id`` depends on, directly or not."""
        found: set[str] = set()
        frontier = set(self.nodes[node_id].upstream)
        while frontier:
            found |= frontier
            frontier = {u for n in frontier for u in self.nodes[n].upstream} - found
        return found

    def subset(self, node_ids: set[str]) -> Pipeline:
        """The pipeline of only ``node_ids``, which must hold every node they depend on."""
        return Pipeline(self.config, {n: node for n, node in self.nodes.items() if n in node_ids})

    def span_readers(self) -> list[Node]:
        """The nodes that read spans of data (their spec names a ``span_param``)."""
        return [n for n in self.nodes.values() if n.spec.span_param]

    def with_span(self, span: int) -> Pipeline:
        """The pipeline with every span-reading node pinned to ``span``."""
        nodes = dict(self.nodes)
        for node in self.span_readers():
            assert node.spec.span_param
            params = node.entry.params.model_copy(update={node.spec.span_param: span})
            nodes[node.id] = replace(node, entry=node.entry.model_copy(update={"params": params}))
        return Pipeline(self.config, nodes)

    def downstream_of(self, node_id: str) -> set[str]:
        """Every node that depends on ``node_id``, directly or not."""
        found: set[str] = set()
        frontier = {node_id}
        while frontier:
            frontier = {n.id for n in self.nodes.values() if n.upstream & frontier} - found
            found |= frontier
        return found


def build_pipeline(config: PipelineConfig) -> Pipeline:
    """Wire the config's entries into a ``Pipeline``; raise ``ConfigError`` on bad wiring."""
    from pipelines.config.load import issue_at

    issues: list[ConfigIssue] = []
    index_of: dict[str, int] = {}
    for index, entry in enumerate(config.components):
        if entry.node_id in index_of:
            issues.append(issue_at(config, ("components", index, "name"),
                                   f"duplicate node id '{entry.node_id}'; give one entry a "
                                   "distinct `name:`"))
        index_of.setdefault(entry.node_id, index)

    entries = {e.node_id: e for e in config.components}
    nodes: dict[str, Node] = {}
    for index, entry in enumerate(config.components):
        spec = entry.spec
        channels = []
        for wire in entry.inputs:
            if wire not in spec.inputs:
                issues.append(issue_at(config, ("components", index, "inputs", wire),
                                       f"{spec.name} has no input '{wire}'; its inputs are "
                                       f"{', '.join(spec.inputs)}"))
        for name, input_spec in spec.inputs.items():
            key = ("components", index, "inputs", name)
            if input_spec.resolver in UNWIRED_RESOLVERS:
                channels.append(Channel(name, input_spec, None, None))
                continue
            if name in entry.inputs:
                producer, _, output = entry.inputs[name].partition(".")
                problem = _check_wire(entries, producer, output, input_spec)
                if problem:
                    issues.append(issue_at(config, key, problem))
                    continue
            else:
                found = _default_wire(config.components[:index], input_spec)
                if found is None:
                    if not input_spec.optional:
                        issues.append(issue_at(config, ("components", index),
                                               f"{spec.name} needs an input '{name}' of type "
                                               f"{input_spec.type}, and no earlier component "
                                               "produces one"))
                    continue
                producer, output = found
            channels.append(Channel(name, input_spec, producer, output))
        nodes[entry.node_id] = Node(entry.node_id, entry, spec, tuple(channels))

    if not issues:
        try:
            graphlib.TopologicalSorter({n.id: n.upstream for n in nodes.values()}).prepare()
        except graphlib.CycleError as exc:
            cycle = " -> ".join(exc.args[1])
            issues.append(issue_at(config, ("components",), f"the wiring has a cycle: {cycle}"))
    if issues:
        raise ConfigError(issues)
    return Pipeline(config, nodes)


def _check_wire(
    entries: dict[str, ComponentEntry], producer: str, output: str, want: InputSpec
) -> str | None:
    if producer not in entries:
        return f"no node '{producer}'; nodes are {', '.join(entries)}"
    outputs = entries[producer].spec.outputs
    if output not in outputs:
        return f"node '{producer}' has no output '{output}'; its outputs are {', '.join(outputs)}"
    if outputs[output] != want.type:
        return f"'{producer}.{output}' is {outputs[output]}, but this input takes {want.type}"
    return None


def _default_wire(
    earlier: list[ComponentEntry], want: InputSpec
) -> tuple[str, str] | None:
    """The nearest earlier output of the wanted type, preferring ``want.prefer_component``."""
    matches = [
        (entry, output)
        for entry in reversed(earlier)
        for output, kind in entry.spec.outputs.items()
        if kind == want.type
    ]
    preferred = [m for m in matches if m[0].spec.name == want.prefer_component]
    for entry, output in preferred or matches:
        return entry.node_id, output
    return None
