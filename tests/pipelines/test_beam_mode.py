"""The DirectRunner mode follows the data's size unless the config chose one; whether the
runner is the DirectRunner at all."""

from __future__ import annotations

import json
import os

import pytest

from pipelines.beam_mode import (
    IN_MEMORY,
    MULTI_PROCESSING_FROM_ROWS,
    beam_args_for,
    direct_workers,
    uses_direct_runner,
)
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


def test_rows_count_once_per_model_that_scores_them() -> None:
    rows = examples(MULTI_PROCESSING_FROM_ROWS * 2 // 3)
    model = {"model": [Artifact("Model", "/m", 2)]}
    assert beam_args_for([], rows | model) == IN_MEMORY
    with_baseline = rows | model | {"baseline_model": [Artifact("Model", "/b", 3)]}
    assert "--direct_running_mode=multi_processing" in beam_args_for([], with_baseline)


def test_a_configured_runner_or_mode_is_obeyed() -> None:
    big = examples(10 * MULTI_PROCESSING_FROM_ROWS)
    for configured in (["--runner=FlinkRunner"], ["--direct_running_mode=in_memory"],
                       ["--direct_num_workers=4"]):
        assert beam_args_for(configured, big) == configured


@pytest.mark.parametrize(("beam_args", "direct"), [
    ([], True),
    (IN_MEMORY, True),
    (["--runner=DirectRunner"], True),
    (["--runner", "direct"], True),
    (["--runner=BundleBasedDirectRunner"], True),
    (["--runner=FlinkRunner", "--flink_master=host:8081"], False),
    (["--runner", "DataflowRunner"], False),
    (["--runner=PortableRunner"], False),
])
def test_uses_direct_runner(beam_args: list[str], direct: bool) -> None:
    assert uses_direct_runner(beam_args) is direct


@pytest.mark.parametrize(("beam_args", "workers"), [
    ([], 1),
    (IN_MEMORY, 1),
    (["--direct_running_mode=multi_processing", "--direct_num_workers=3"], 3),
    (["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"], 2),
    (["--direct_running_mode=multi_processing", "--direct_num_workers=0"], os.cpu_count()),
    (["--runner=FlinkRunner", "--direct_running_mode=multi_processing"], 1),
])
def test_direct_workers(beam_args: list[str], workers: int) -> None:
    assert direct_workers(beam_args) == workers
