"""The config snapshot: a copy of the expanded config each execution ran with.

A run's config can change between runs (and, on Airflow, between the tasks of one run), so
the launcher records it per execution. The expanded YAML (``${VAR}`` substituted, so it shows
the paths and values that really ran) is written once per distinct content to
``<root>/config-snapshots/<hash[:16]>.yaml``, content-addressed: a thousand runs of one config
share one file. Each execution gets the custom properties ``config_snapshot`` (the path) and
``config_hash`` (SHA-256 of the file's bytes); the ``pipeline_run`` context gets the same, plus
``config_source`` (the file it was read from): the newest, when a task ran another config.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pipelines.config.envsubst import expand

if TYPE_CHECKING:
    from pipelines.config.models import PipelineConfig
    from pipelines.metadata.store import Contexts, LineageStore

SNAPSHOT_DIR = "config-snapshots"
PATH, HASH, SOURCE = "config_snapshot", "config_hash", "config_source"
NODES = "pipeline_nodes"  # on the run's context: {node id: [its upstream node ids]}


def expanded_text(source: Path) -> str:
    """The config as it ran: parsed, ``${VAR}`` expanded, dumped back in its own key order."""
    # libyaml's loader and dumper where PyYAML has them: the same safe subset, 5-10x faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    data = expand(yaml.load(source.read_text(), Loader=loader), lambda path, name: None)
    return (f"# {source}, with ${{VAR}} expanded\n"
            + yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False))


def write_snapshot(config: PipelineConfig) -> dict[str, str]:
    """Write the snapshot if it is new; its ``config_snapshot``, ``config_hash`` and
    ``config_source``, or {} for a config that has no file (tests build some in memory)."""
    source = config.source
    if not source.is_file():
        return {}
    stat = source.stat()
    environment = hash(frozenset(os.environ.items()))  # ${VAR}s expand from it
    return dict(_written(source, config.root, stat.st_mtime_ns, stat.st_size, environment))


@functools.lru_cache(maxsize=16)
def _written(source: Path, root: Path, mtime_ns: int, size: int,
             environment: int) -> dict[str, str]:
    """Once per config file version, environment and process: every node of a run asks, and
    parsing the YAML ten times was most of a fully cached penguin run's time."""
    text = expanded_text(source)
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = root / SNAPSHOT_DIR / f"{digest[:16]}.yaml"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(text)
        os.replace(temp, path)  # concurrent tasks write the same bytes: either rename wins
    return {PATH: str(path), HASH: digest, SOURCE: str(source)}


def record_on_run(store: LineageStore, contexts: Contexts, snapshot: dict[str, str],
                  nodes: dict[str, list[str]]) -> None:
    """Put the snapshot, and the run's nodes with their upstream nodes (so ``lockgate runs``
    can tell a finished run from one whose next task has not started), on the run's context
    unless it already has them."""
    run = contexts.run
    wanted = {**snapshot, NODES: json.dumps(nodes)}  # in run order
    if all(key in run.custom_properties and run.custom_properties[key].string_value == value
           for key, value in wanted.items()):
        return
    for key, value in wanted.items():
        run.custom_properties[key].string_value = value
    store._retry(lambda: store.mlmd.put_contexts([run]))
