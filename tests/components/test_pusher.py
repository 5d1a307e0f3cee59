"""Pusher executor and the serving directory: gating (the Evaluator's blessing, and the
InfraValidator's when one is wired), versions, atomicity, traversal, locking.

The models are real (tiny) SavedModels; crashes and concurrency use real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from components.evaluator.markers import BLESSED_FILE, BLESSING_FILE, NOT_BLESSED_FILE
from components.infra_validator.markers import INFRA_BLESSED_FILE, write_infra_blessing
from components.pusher import PusherParams
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.fingerprint import fingerprint_dir
from pipelines.sdk import layout
from pipelines.serving import (
    STATE_DIR,
    ServingPathError,
    push,
    read_manifest,
    serving_target,
    versions,
)
from tests.helpers import REPO, executor_context


def save_model(directory: Path, scale: float) -> None:
    """A real SavedModel whose serving_default multiplies its input by ``scale``."""
    import tensorflow as tf

    class Scale(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable(scale)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": x * self.scale}

    module = Scale()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.__call__})


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model artifact directories (``<uri>/Format-Serving``) of two different models."""
    models = {}
    for name, scale in (("a", 2.0), ("b", 3.0)):
        uri = tmp_path_factory.mktemp(f"model-{name}")
        save_model(uri / layout.SERVING_MODEL_DIR, scale)
        models[name] = uri
    return models


def model(saved_models: dict[str, Path], name: str, model_id: int) -> Artifact:
    uri = saved_models[name]
    return Artifact("Model", str(uri), id=model_id,
                    properties={"fingerprint": fingerprint_dir(uri)})


def blessing(tmp_path: Path, model_id: int, blessed: bool = True) -> Artifact:
    uri = tmp_path / f"blessing-{model_id}-{int(blessed)}"
    uri.mkdir(parents=True, exist_ok=True)
    (uri / (BLESSED_FILE if blessed else NOT_BLESSED_FILE)).touch()
    failures = [] if blessed else [{
        "metric": "sparse_categorical_accuracy", "slice": "overall", "kind": "lower",
        "value": 0.83, "bound": 0.9999,
        "message": "sparse_categorical_accuracy 0.83 < lower bound 0.9999 (overall)",
    }]
    (uri / BLESSING_FILE).write_text(json.dumps({"blessed": blessed, "failures": failures}))
    return Artifact("ModelBlessing", str(uri), id=100 + model_id,
                    properties={"blessed": int(blessed), "model_id": model_id})


def run_pusher(
    tmp_path: Path, model_artifact: Artifact, blessing_artifact: Artifact,
    infra_blessing: Artifact | None = None, **params: object
) -> tuple[ExecutionContext, ExecutorResult]:
    from components.pusher.executor import run

    inputs = {"model": [model_artifact], "blessing": [blessing_artifact]}
    if infra_blessing is not None:
        inputs["infra_blessing"] = [infra_blessing]
    ctx = executor_context(
        "Pusher", tmp_path / f"run-{time.monotonic_ns()}", params=params, inputs=inputs,
    )
    return ctx, run(ctx)


def serving(home: Path) -> Path:
    return home / "serving" / "test"  # executor_context's pipeline is named "test"


def test_blessed_models_become_versions_1_and_2(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    import tensorflow as tf

    for version, (name, model_id) in enumerate((("a", 1), ("b", 2)), 1):
        ctx, result = run_pusher(tmp_path, model(saved_models, name, model_id),
                                 blessing(tmp_path, model_id))
        target = serving(lockgate_home) / str(version)
        assert result.outcome == "complete"
        assert result.message == f"pushed as version {version} to {target}"
        source = saved_models[name] / layout.SERVING_MODEL_DIR
        assert fingerprint_dir(target) == fingerprint_dir(source)
        pushed = ctx.outputs["pushed_model"]
        assert pushed.properties["version"] == version
        assert pushed.properties["destination"] == str(lockgate_home / "serving")
        assert pushed.properties["model_name"] == "test"
        record = json.loads((pushed.path / "push.json").read_text())
        assert {k: record[k] for k in ("model_name", "version", "path", "model_id")} == {
            "model_name": "test", "version": version, "path": str(target), "model_id": model_id
        }
        assert record["pushed_at"].endswith("Z")

    # Only versions are visible to TF Serving; the bookkeeping lives outside the model dir.
    assert sorted(p.name for p in serving(lockgate_home).iterdir()) == ["1", "2"]
    served = tf.saved_model.load(str(serving(lockgate_home) / "2"))
    output = served.signatures["serving_default"](tf.constant([1.0, 2.0]))
    assert output["y"].numpy().tolist() == [3.0, 6.0]  # model b, as pushed last


def test_unblessed_model_is_skipped_and_serving_is_untouched(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1))
    before = fingerprint_dir(lockgate_home / "serving")

    ctx, result = run_pusher(tmp_path, model(saved_models, "b", 2),
                             blessing(tmp_path, 2, blessed=False))
    assert result.outcome == "skipped"
    assert result.message == (
        "not blessed: sparse_categorical_accuracy 0.83 < lower bound 0.9999 (overall)"
    )
    assert fingerprint_dir(lockgate_home / "serving") == before
    assert versions(serving_target(None, "test")) == [1]
    assert not any(ctx.outputs["pushed_model"].path.iterdir())


def test_blessing_of_another_model_is_not_enough(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    _, result = run_pusher(tmp_path, model(saved_models, "b", 2), blessing(tmp_path, 1))
    assert result.outcome == "skipped"
    assert "the blessing is for model 1, not for model 2" in result.message
    assert not serving(lockgate_home).exists()


def test_same_model_again_creates_no_new_version(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    a, b = model(saved_models, "a", 1), model(saved_models, "b", 2)
    run_pusher(tmp_path, a, blessing(tmp_path, 1))
    ctx, result = run_pusher(tmp_path, a, blessing(tmp_path, 1))
    assert result.outcome == "complete"
    assert result.message.startswith("already serving as version 1")
    assert ctx.outputs["pushed_model"].properties["version"] == 1
    assert json.loads((ctx.outputs["pushed_model"].path / "push.json").read_text())[
        "new_version"] is False
    assert versions(serving_target(None, "test")) == [1]

    # Only the newest version counts: after b, a newer blessing of a serves it as version 3.
    run_pusher(tmp_path, b, blessing(tmp_path, 2))
    again = Artifact("ModelBlessing", blessing(tmp_path, 1).uri, id=300,
                     properties={"blessed": 1, "model_id": 1})
    _, result = run_pusher(tmp_path, a, again)
    assert result.message.startswith("pushed as version 3")
    manifest = read_manifest(serving_target(None, "test"))
    assert [manifest[v]["model_id"] for v in ("1", "2", "3")] == [1, 2, 1]


def infra_blessing(tmp_path: Path, model_id: int, blessed: bool, reason: str = "") -> Artifact:
    """An InfraValidator's verdict on ``model_id``, in its layout."""
    uri = tmp_path / f"infra-{model_id}-{int(blessed)}"
    uri.mkdir(parents=True, exist_ok=True)
    write_infra_blessing(uri, blessed, {"model_id": model_id, "reason": reason})
    return Artifact("InfraBlessing", str(uri), id=300 + model_id,
                    properties={"blessed": int(blessed), "model_id": model_id})


def test_model_that_passed_the_canary_is_pushed(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    _, result = run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1),
                           infra_blessing(tmp_path, 1, blessed=True))
    assert result.outcome == "complete"
    assert result.message.startswith("pushed as version 1")
    assert versions(serving_target(None, "test")) == [1]


def test_model_the_canary_refused_is_skipped_with_its_reason(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    reason = ("the serving signature failed on the warm-up request: InvalidArgumentError: "
              "assertion failed")
    ctx, result = run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1),
                             infra_blessing(tmp_path, 1, blessed=False, reason=reason))
    assert result.outcome == "skipped"
    assert result.message == f"not infra blessed: {reason}"
    assert not serving(lockgate_home).exists()
    assert not any(ctx.outputs["pushed_model"].path.iterdir())


def test_infra_blessing_of_another_model_is_not_enough(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    _, result = run_pusher(tmp_path, model(saved_models, "b", 2), blessing(tmp_path, 2),
                           infra_blessing(tmp_path, 1, blessed=True))
    assert result.outcome == "skipped"
    assert "the infra blessing is for model 1, not for model 2" in result.message
    assert not serving(lockgate_home).exists()


def test_infra_blessing_without_its_marker_is_not_enough(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    infra = infra_blessing(tmp_path, 1, blessed=True)
    (infra.path / INFRA_BLESSED_FILE).unlink()  # a half-written or tampered verdict
    _, result = run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1), infra)
    assert result.outcome == "skipped"
    assert f"no {INFRA_BLESSED_FILE} marker" in result.message
    assert not serving(lockgate_home).exists()


def test_the_evaluators_refusal_comes_before_the_canarys_blessing(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    _, result = run_pusher(tmp_path, model(saved_models, "a", 1),
                           blessing(tmp_path, 1, blessed=False),
                           infra_blessing(tmp_path, 1, blessed=True))
    assert result.outcome == "skipped" and result.message.startswith("not blessed: ")
    assert not serving(lockgate_home).exists()


@pytest.mark.parametrize("destination", ["../escape", "models/../../escape", "/srv/../etc"])
def test_traversal_in_destination_is_a_config_error(destination: str) -> None:
    with pytest.raises(ValidationError, match=r"contains '\.\.'"):
        PusherParams(destination=destination)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_traversal_in_model_name_is_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        PusherParams(model_name=name)
    with pytest.raises(ServingPathError, match="not a plain directory name"):
        serving_target(None, name)


def test_symlinked_destination_escaping_the_root_is_rejected(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (lockgate_home / "serving").mkdir(parents=True)
    (lockgate_home / "serving" / "link").symlink_to(outside)
    with pytest.raises(ServingPathError, match="outside the serving root"):
        run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1),
                   destination="link")
    assert not any(outside.iterdir())


def test_relative_destination_lies_below_the_serving_root(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    ctx, _ = run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1),
                        destination="staging", model_name="penguin")
    assert (lockgate_home / "serving" / "staging" / "penguin" / "1" / "saved_model.pb").is_file()
    assert ctx.outputs["pushed_model"].properties["model_name"] == "penguin"


def test_failed_copy_leaves_no_partial_version(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    import shutil

    target = serving_target(None, "test")
    source = saved_models["a"] / layout.SERVING_MODEL_DIR
    push(source, target, {"model_id": 1})

    def copy_half_then_fail(src: Path, dst: Path) -> None:
        dst.mkdir()
        shutil.copy2(src / "saved_model.pb", dst / "saved_model.pb")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        push(saved_models["b"] / layout.SERVING_MODEL_DIR, target, {"model_id": 2},
             copy=copy_half_then_fail)
    assert versions(target) == [1]
    assert list(read_manifest(target)) == ["1"]
    assert not list(target.state_dir.glob("incoming-*"))
    assert push(saved_models["b"] / layout.SERVING_MODEL_DIR, target,
                {"model_id": 2}).version == 2


PUSH_SCRIPT = textwrap.dedent("""
    import shutil, sys, time
    from pathlib import Path
    from pipelines.serving import push, serving_target

    source, model_id, delay = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

    def slow_copy(src, dst):
        shutil.copytree(src, dst)
        print("copied", flush=True)
        time.sleep(delay)  # a big model still copying: overlaps the other pusher, or is killed

    result = push(source, serving_target(None, "test"), {"model_id": model_id}, copy=slow_copy)
    print("version", result.version, flush=True)
""")


def pusher_process(source: Path, model_id: int, delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PUSH_SCRIPT, str(source), str(model_id), str(delay)],
        cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def test_pusher_killed_mid_copy_leaves_no_version(
    lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    target = serving_target(None, "test")
    process = pusher_process(saved_models["a"] / layout.SERVING_MODEL_DIR, 1, delay=60)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "copied"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    assert versions(target) == []  # the complete copy was never renamed into place
    assert list(target.state_dir.glob("incoming-*"))  # only the abandoned copy remains
    assert read_manifest(target) == {}
    result = push(saved_models["b"] / layout.SERVING_MODEL_DIR, target, {"model_id": 2})
    assert (result.version, versions(target)) == (1, [1])
    assert not list(target.state_dir.glob("incoming-*"))  # cleaned under the lock


def test_concurrent_pushers_never_share_a_version(
    lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    processes = [
        pusher_process(saved_models[name] / layout.SERVING_MODEL_DIR, model_id, delay=1.0)
        for name, model_id in (("a", 1), ("b", 2))
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    pushed = sorted(int(out.split("version")[1]) for out in outputs)
    assert pushed == [1, 2]
    target = serving_target(None, "test")
    manifest = read_manifest(target)
    assert sorted(manifest[v]["model_id"] for v in ("1", "2")) == [1, 2]
    for version in ("1", "2"):
        name = "a" if manifest[version]["model_id"] == 1 else "b"
        source = saved_models[name] / layout.SERVING_MODEL_DIR
        assert fingerprint_dir(target.version_dir(int(version))) == fingerprint_dir(source)
    assert (lockgate_home / "serving" / STATE_DIR / "test" / "push.lock").is_file()


def test_an_older_blessing_never_replaces_a_newer_one(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    """Two runs blessed models a (blessing 101) then b (blessing 102); b's Pusher got there
    first. a's push is refused, and serving stays on b."""
    _, newer = run_pusher(tmp_path, model(saved_models, "b", 2), blessing(tmp_path, 2))
    assert newer.outcome == "complete"
    _, older = run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1))
    assert older.outcome == "skipped"
    assert older.message.startswith("not pushed: version 1 already serves model 2, blessed "
                                    "after this one (blessing 102 > 101)")
    assert versions(serving_target(None, "test")) == [1]
    assert read_manifest(serving_target(None, "test"))["1"]["model_id"] == 2
    # A newer blessing than the served one is pushed as usual.
    newest = Artifact("ModelBlessing", blessing(tmp_path, 1).uri, id=200,
                      properties={"blessed": 1, "model_id": 1})
    _, result = run_pusher(tmp_path, model(saved_models, "a", 1), newest)
    assert result.outcome == "complete" and versions(serving_target(None, "test")) == [1, 2]


def test_rollback_may_serve_an_older_blessing(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    from pipelines.serving import push

    run_pusher(tmp_path, model(saved_models, "b", 2), blessing(tmp_path, 2))
    target = serving_target(None, "test")
    source = saved_models["a"] / layout.SERVING_MODEL_DIR
    refused = push(source, target, {"model_id": 1, "blessing_id": 101})
    assert refused.superseded and versions(target) == [1]
    restored = push(source, target, {"model_id": 1, "blessing_id": 101}, allow_older=True)
    assert restored.created and versions(target) == [1, 2]


def test_an_absolute_destination_outside_the_home_needs_the_config_to_allow_it(
    tmp_path: Path, lockgate_home: Path, saved_models: dict[str, Path]
) -> None:
    outside = tmp_path / "models-elsewhere"
    with pytest.raises(ServingPathError) as caught:
        run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1),
                   destination=str(outside))
    assert f"is outside LOCKGATE_HOME ({lockgate_home})" in str(caught.value)
    assert "pipeline.allow_outside_home: true" in str(caught.value)
    assert not outside.exists()
    # Inside the home, an absolute destination is fine; outside, only when allowed.
    inside, _ = run_pusher(tmp_path, model(saved_models, "a", 1), blessing(tmp_path, 1),
                           destination=str(lockgate_home / "served"))
    assert (lockgate_home / "served" / "test" / "1" / "saved_model.pb").is_file()
    assert inside.outputs["pushed_model"].properties["version"] == 1


def test_validate_reports_a_destination_outside_the_home_at_its_line(tmp_path: Path,
                                                                     lockgate_home: Path) -> None:
    from pipelines.errors import ConfigError
    from pipelines.loading import load_config
    from tests.e2e.configs import component, config_variant

    def elsewhere(config: dict[str, object]) -> None:
        component(config, "Pusher")["params"]["destination"] = "/srv/models"

    config = config_variant(tmp_path, elsewhere)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    [issue] = [str(i) for i in caught.value.issues if "destination" in str(i)]
    assert "params.destination: Pusher destination '/srv/models' is outside LOCKGATE_HOME" \
        in issue
    assert issue.startswith(f"{config}:")
