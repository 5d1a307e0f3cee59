"""The Beam DirectRunner mode for one component execution, chosen by the data's size.

Measured on 2 cores (bench/RESULTS.md, pupdates, whole `lockgate run`): at 100k rows the
in-memory runner with one worker beats multi-processing with two workers (34.7 s against
50.3 s; worker start-up and pickling dominate), and at 1M rows multi-processing wins (113.4 s
against 172.1 s; the Evaluator alone 66.5 s against 119.7 s). The switch sits between the two
measured sizes. A config that names a runner or a DirectRunner mode is always obeyed.

The size is the rows each model scores: an Evaluator with a baseline scores every row twice.
On a pupdates day (33.5k eval rows, plus a 33k-row reference set) the Evaluator took 63.3 s
in-memory and 46.5 s with two workers with a baseline, and 19.7 s against 20.0 s for one model
on the eval split alone; Transform on 200k rows took 15.7 s in-memory against 19.8 s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from pipelines import layout
from pipelines.component import Artifact

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
MULTI_PROCESSING_FROM_ROWS = 300_000
CHOSEN_BY_USER = ("--runner", "--direct_running_mode", "--direct_num_workers")


def multi_processing() -> list[str]:
    return ["--direct_running_mode=multi_processing",
            f"--direct_num_workers={max(2, os.cpu_count() or 2)}"]


def beam_args_for(configured: Sequence[str], inputs: Mapping[str, list[Artifact]]) -> list[str]:
    """``configured`` plus the DirectRunner mode that measured fastest for these inputs' rows,
    times the models that score them."""
    if any(arg.startswith(CHOSEN_BY_USER) for arg in configured):
        return list(configured)
    models = sum(artifact.type == "Model" for found in inputs.values() for artifact in found)
    rows = input_rows(inputs) * max(1, models)
    mode = multi_processing() if rows >= MULTI_PROCESSING_FROM_ROWS else IN_MEMORY
    return [*configured, *mode]


def uses_direct_runner(beam_args: Sequence[str]) -> bool:
    """Whether Beam would run on this machine's DirectRunner: no ``--runner``, or a direct one.

    A component may then use a library's in-process path, which beats the DirectRunner's
    per-element work at the sizes one machine holds; any other runner scales out, so it gets
    the Beam pipeline.
    """
    runner = _option(beam_args, "--runner") or "DirectRunner"
    return runner.lower().removesuffix("runner") in ("direct", "bundlebaseddirect")


def direct_workers(beam_args: Sequence[str]) -> int:
    """How many worker processes the DirectRunner runs in parallel: ``--direct_num_workers`` in
    multi-processing mode (0 means one per core), else 1 (in-memory mode, or another runner)."""
    mode = _option(beam_args, "--direct_running_mode")
    if not uses_direct_runner(beam_args) or mode != "multi_processing":
        return 1
    workers = int(_option(beam_args, "--direct_num_workers") or "1")
    return workers if workers > 0 else os.cpu_count() or 1


def _option(beam_args: Sequence[str], name: str) -> str | None:
    """The last value given for ``name``, as ``--name=value`` or ``--name value``."""
    value = None
    for i, arg in enumerate(beam_args):
        if arg == name and i + 1 < len(beam_args):
            value = beam_args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def input_rows(inputs: Mapping[str, list[Artifact]]) -> int:
    """Rows of the Examples inputs, from the split counts ExampleGen and Transform record."""
    return sum(sum(layout.split_rows(artifact).values()) for artifacts in inputs.values()
               for artifact in artifacts if artifact.type == "Examples")
