"""The Beam DirectRunner mode for one component execution, chosen by the data's size.

Measured on 2 cores (bench/RESULTS.md, pupdates, whole `lockgate run`): at 100k rows the
in-memory runner with one worker beats multi-processing with two workers (34.7 s against
50.3 s; worker start-up and pickling dominate), and at 1M rows multi-processing wins (113.4 s
against 172.1 s; the Evaluator alone 66.5 s against 119.7 s). The switch sits between the two
measured sizes. A config that names a runner or a DirectRunner mode is always obeyed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from pipelines.component import Artifact

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
MULTI_PROCESSING_FROM_ROWS = 300_000
CHOSEN_BY_USER = ("--runner", "--direct_running_mode", "--direct_num_workers")


def multi_processing() -> list[str]:
    return ["--direct_running_mode=multi_processing",
            f"--direct_num_workers={max(2, os.cpu_count() or 2)}"]


def beam_args_for(configured: Sequence[str], inputs: Mapping[str, list[Artifact]]) -> list[str]:
    """``configured`` plus the DirectRunner mode that measured fastest for these inputs' rows."""
    if any(arg.startswith(CHOSEN_BY_USER) for arg in configured):
        return list(configured)
    rows = input_rows(inputs)
    mode = multi_processing() if rows >= MULTI_PROCESSING_FROM_ROWS else IN_MEMORY
    return [*configured, *mode]


def input_rows(inputs: Mapping[str, list[Artifact]]) -> int:
    """Rows of the Examples inputs, from the split counts ExampleGen and Transform record."""
    total = 0
    for artifacts in inputs.values():
        for artifact in artifacts:
            if artifact.type == "Examples" and artifact.properties.get("split_rows"):
                total += sum(json.loads(artifact.properties["split_rows"]).values())
    return total
