"""Caching, resume and crash safety on the real penguin pipeline (issue: caching).

Mirrors TFX's penguin e2e test: the same pipeline run repeatedly against one MLMD store.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.graph import build_pipeline
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.runner import RunSummary, run_pipeline
from pipelines.serving import read_manifest, serving_target, versions
from tests.e2e.configs import REPO, component, config_variant

pytestmark = pytest.mark.e2e
UPSTREAM = ["example_gen", "statistics_gen", "schema_gen", "example_validator"]
MODEL_HALF = ["transform", "trainer", "evaluator", "infra_validator", "pusher", "bulk_inferrer"]
AFTER_TRAINER = MODEL_HALF[1:]


@pytest.fixture(scope="module")
def lockgate_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("cache-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def user_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the penguin user code that tests may edit."""
    target = tmp_path_factory.mktemp("code") / "penguin"
    shutil.copytree(REPO / "examples" / "penguin", target,
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    return target


def make_config(directory: Path, user_code: Path, train_steps: int = 300,
                edit: Callable[[dict[str, Any]], None] = lambda config: None) -> Path:
    def private_code(config: dict[str, Any]) -> None:
        transform = component(config, "Transform")["params"]
        transform["module_file"] = str(user_code / "preprocessing.py")
        trainer = component(config, "Trainer")["params"]
        trainer["module_file"] = str(user_code / "model.py")
        trainer["train_steps"] = train_steps
        edit(config)

    directory.mkdir(parents=True, exist_ok=True)
    return config_variant(directory, private_code)


def run(config: Path, run_id: str) -> RunSummary:
    summary = run_pipeline(build_pipeline(load_config(config)), run_id)
    assert summary.ok, summary.failure
    return summary


def statuses(summary: RunSummary) -> dict[str, str]:
    return {r.node_id: r.status for r in summary.results}


def artifact_ids(store: LineageStore) -> set[int]:
    return {a.id for a in store.mlmd.get_artifacts()}


def served_versions(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "serving" / "penguin").iterdir())


def test_three_runs_then_edits(lockgate_home: Path, user_code: Path, tmp_path: Path) -> None:
    config = make_config(tmp_path, user_code)
    store = LineageStore(load_config(config).metadata)

    first = run(config, "run-1")
    assert set(statuses(first).values()) == {"complete"} and len(first.results) == 10

    second = run(config, "run-2")
    assert statuses(second) == {
        **{node: "cached" for node in [*UPSTREAM, "transform", "trainer"]},
        "evaluator": "complete",  # the baseline is now run 1's blessed model
        # A new blessing: the canary and what it gates run again.
        "infra_validator": "complete",
        "pusher": "complete",
        "bulk_inferrer": "complete",
    }
    assert served_versions(lockgate_home) == ["1"]  # the same model is not pushed again

    before = artifact_ids(store)
    third = run(config, "run-3")
    assert set(statuses(third).values()) == {"cached"}
    assert artifact_ids(store) == before

    # Editing the preprocessing module re-runs Transform and everything after it only.
    module = user_code / "preprocessing.py"
    module.write_text(module.read_text() + "\n# edited: the cache must notice\n")
    edited = run(config, "run-4")
    assert {n for n, s in statuses(edited).items() if s == "cached"} == set(UPSTREAM)

    # Editing the model module re-runs the Trainer and what follows, never Transform: the
    # preprocessing module does not import it, so Transform's code fingerprint is unchanged.
    model = user_code / "model.py"
    model.write_text(model.read_text() + "\n# edited: only the Trainer reads this file\n")
    remodelled = run(config, "run-5")
    assert {n for n, s in statuses(remodelled).items() if s != "cached"} == set(AFTER_TRAINER)

    # Changing a Trainer hyperparameter re-runs the Trainer and what follows only.
    retrained = run(make_config(tmp_path / "steps", user_code, train_steps=250), "run-6")
    assert {n for n, s in statuses(retrained).items() if s != "cached"} == set(AFTER_TRAINER)


def cli(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", str(config), *args],
        cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )


def wait_for_running(store: LineageStore, run_id: str, node: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.node_id == node and e.state == "RUNNING"
               for e in store.run_executions("penguin", run_id)):
            return
        time.sleep(0.2)
    raise AssertionError(f"{node} never started in {run_id}")


def test_transform_killed_mid_run_then_resumed(lockgate_home: Path, user_code: Path,
                                               tmp_path: Path) -> None:
    config = make_config(tmp_path, user_code)
    store = LineageStore(load_config(config).metadata)
    process = cli(config, "--run-id", "killed", "--no-cache")
    try:
        wait_for_running(store, "killed", "transform", timeout=300)
        time.sleep(2.0)  # let it write partial output
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    resumed = cli(config, "--resume", "killed")
    output, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, output

    transforms = [e for e in store.run_executions("penguin", "killed") if e.node_id == "transform"]
    assert [e.state for e in transforms] == ["FAILED", "COMPLETE"]
    assert "abandoned" in transforms[0].message
    # No orphans: every LIVE artifact was output by a finished execution.
    finished = {e.id for e in store.run_executions("penguin", "killed")
                if e.state in ("COMPLETE", "CACHED") or e.outcome == "halted"}
    live = [a for a in store.mlmd.get_artifacts() if a.state == store.pb.Artifact.LIVE]
    producers = {
        e.artifact_id: e.execution_id
        for e in store.mlmd.get_events_by_artifact_ids([a.id for a in live])
        if e.type == store.pb.Event.OUTPUT
    }
    all_finished = {e.id for e in store.mlmd.get_executions()
                    if e.last_known_state in (store.pb.Execution.COMPLETE,
                                              store.pb.Execution.CACHED)}
    assert all(producers[a.id] in all_finished | finished for a in live)
    assert not list((lockgate_home / "pipelines").rglob(".staging-*"))


def test_two_concurrent_runs_on_sqlite(lockgate_home: Path, user_code: Path,
                                       tmp_path: Path) -> None:
    """Both runs bless their own model (value thresholds only, so neither can refuse because
    the other's model became its baseline first), and both Pushers race for the serving record:
    whichever got there first, serving ends on the newer blessing's model."""
    def value_thresholds_only(config: dict[str, Any]) -> None:
        for metric in component(config, "Evaluator")["params"]["metrics"]:
            metric.get("threshold", {}).pop("change", None)

    config = make_config(tmp_path, user_code, edit=value_thresholds_only)
    runs = [cli(config, "--run-id", f"parallel-{i}", "--no-cache") for i in (1, 2)]
    outputs = [p.communicate(timeout=1200)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    store = LineageStore(load_config(config).metadata)
    blessings = []
    for i in (1, 2):
        executions = store.run_executions("penguin", f"parallel-{i}")
        assert len(executions) == 10 and all(e.state == "COMPLETE" for e in executions)
        [evaluator] = [e for e in executions if e.node_id == "evaluator"]
        [blessing] = store.outputs_of(evaluator.id)["blessing"]
        assert blessing.properties["blessed"] == 1
        blessings.append(blessing)
    newer = max(blessings, key=lambda b: b.id or 0)
    target = serving_target(None, "penguin")
    newest = read_manifest(target)[str(versions(target)[-1])]
    assert newest["blessing_id"] == newer.id
    assert newest["model_id"] == newer.properties["model_id"]
