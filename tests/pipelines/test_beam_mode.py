"""The DirectRunner mode follows the data's size unless the config chose one."""

from __future__ import annotations

import json

from pipelines.beam_mode import IN_MEMORY, MULTI_PROCESSING_FROM_ROWS, beam_args_for
from pipelines.component import Artifact


def examples(*split_rows: int) -> dict[str, list[Artifact]]:
    counts = {f"split{i}": rows for i, rows in enumerate(split_rows)}
    return {"examples": [Artifact("Examples", "/x", 1, {"split_rows": json.dumps(counts)})]}


def test_small_inputs_run_in_memory_with_one_worker() -> None:
    assert beam_args_for([], examples(60_000, 30_000)) == IN_MEMORY
    assert beam_args_for([], {}) == IN_MEMORY


def test_large_inputs_run_multi_processing_counting_every_split() -> None:
    half = MULTI_PROCESSING_FROM_ROWS // 2
    args = beam_args_for(["--save_main_session"], examples(half, half))
    assert args[0] == "--save_main_session"
    assert "--direct_running_mode=multi_processing" in args
    assert any(a.startswith("--direct_num_workers=") and int(a.split("=")[1]) >= 2 for a in args)


def test_a_configured_runner_or_mode_is_obeyed() -> None:
    big = examples(10 * MULTI_PROCESSING_FROM_ROWS)
    for configured in (["--runner=FlinkRunner"], ["--direct_running_mode=in_memory"],
                       ["--direct_num_workers=4"]):
        assert beam_args_for(configured, big) == configured
