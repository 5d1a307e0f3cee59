"""Pusher executor: serve a blessed model as the next version, or skip and say why.

Gates, in order: the blessing must be positive (marker file and MLMD property agree), and it
must be about this model. Then ``serving.push`` copies the SavedModel in atomically, or finds the
newest served version already holds this model (a re-run after a cached Trainer) and records
that instead of creating a duplicate version.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from components import artifacts
from components.evaluator.markers import BLESSED_FILE, NOT_BLESSED_FILE, read_reason
from components.pusher import PusherParams
from components.pusher.serving import PushResult, push, serving_target
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.errors import DataError
from pipelines.fingerprint import fingerprint_dir

PUSH_FILE = "push.json"


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, PusherParams)
    model, blessing = _required(ctx, "model"), _required(ctx, "blessing")

    reason = unblessed_reason(blessing, model)
    if reason is not None:
        ctx.log.info("not pushing model %s: %s", model.id, reason)
        return ExecutorResult(outcome="skipped", message=f"not blessed: {reason}")

    source = model.path / artifacts.SERVING_MODEL_DIR
    if not (source / "saved_model.pb").is_file():
        raise DataError(
            f"the Model artifact {model.id} has no serving SavedModel at {source}; "
            "re-run the Trainer that produced it"
        )
    target = serving_target(params.destination, params.model_name or ctx.pipeline_name)
    identity = {
        "model_id": model.id,
        # The launcher records it on publish; executor tests have none, so compute it.
        "model_fingerprint": model.properties.get("fingerprint") or fingerprint_dir(model.path),
    }
    ctx.progress(0, None, f"copying the model into {target.model_dir}")
    started = time.monotonic()
    result = push(source, target, identity)
    seconds = time.monotonic() - started

    write_pushed_model(ctx.outputs["pushed_model"], result, target.root, target.model_name,
                       model.id)
    if result.created:
        message = f"pushed as version {result.version} to {result.path}"
    else:
        message = f"already serving as version {result.version} ({result.path}); not pushed again"
    return ExecutorResult(
        message=message,
        properties={"version": result.version, "new_version": int(result.created),
                    "push_seconds": round(seconds, 3)},
    )


def unblessed_reason(blessing: Artifact, model: Artifact) -> str | None:
    """None when ``blessing`` blesses ``model``; otherwise why not, for people to read."""
    marker_blessed = (blessing.path / BLESSED_FILE).is_file()
    marker_refused = (blessing.path / NOT_BLESSED_FILE).is_file()
    flag = blessing.properties.get("blessed")
    if marker_refused or flag == 0:
        return read_reason(blessing.path)
    if not marker_blessed:
        return f"the blessing at {blessing.uri} has no {BLESSED_FILE} marker"
    blessed_model = blessing.properties.get("model_id")
    if blessed_model is not None and model.id is not None and int(blessed_model) != model.id:
        return (
            f"the blessing is for model {blessed_model}, not for model {model.id}; wire the "
            "Pusher's model and blessing to the same Evaluator run"
        )
    return None


def write_pushed_model(
    output: Artifact, result: PushResult, root: Path, model_name: str, model_id: int | None,
    **extra: object,
) -> dict[str, object]:
    """push.json and the PushedModel properties; shared with ``lockgate rollback``."""
    record: dict[str, object] = {
        "model_name": model_name,
        "version": result.version,
        "path": str(result.path),
        "destination": str(root),
        "model_id": model_id,
        "model_fingerprint": result.record.get("model_fingerprint"),
        "pushed_at": result.record.get("pushed_at"),
        "new_version": result.created,
        **extra,
    }
    output.path.mkdir(parents=True, exist_ok=True)
    (output.path / PUSH_FILE).write_text(json.dumps(record, indent=2) + "\n")
    output.properties.update({
        "version": result.version,
        "destination": str(root),
        "model_name": model_name,
        "path": str(result.path),
        "new_version": int(result.created),
    })
    if model_id is not None:
        output.properties["model_id"] = model_id
    return record


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"Pusher needs its '{name}' input, but none was resolved")
    return artifact
