"""Pusher executor: serve a blessed model as the next version, or skip and say why.

Gates, in order: the blessing must be positive (marker file and MLMD property agree), and it
must be about this model; so must the infra blessing, when an InfraValidator is wired. Then
``serving.push`` copies the SavedModel in atomically, or finds the newest served version
already holds this model (a re-run after a cached Trainer) and records that instead of
creating a duplicate version.
"""

from __future__ import annotations

import time

from components.evaluator.markers import BLESSING
from components.infra_validator.markers import INFRA_BLESSING
from components.pusher import PusherParams
from components.verdicts import refusal
from pipelines.sdk import (
    Artifact,
    DataError,
    ExecutionContext,
    ExecutorResult,
    fingerprint_dir,
    layout,
    serving,
)


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, PusherParams)
    model, blessing = _required(ctx, "model"), _required(ctx, "blessing")

    reason = refusal(BLESSING, blessing, model)
    if reason is not None:
        ctx.log.info("not pushing model %s: %s", model.id, reason)
        return ExecutorResult(outcome="skipped", message=f"not blessed: {reason}")
    infra_blessing = ctx.one("infra_blessing")
    if infra_blessing is not None:
        reason = refusal(INFRA_BLESSING, infra_blessing, model)
        if reason is not None:
            ctx.log.info("not pushing model %s: the canary refused it: %s", model.id, reason)
            return ExecutorResult(outcome="skipped", message=f"not infra blessed: {reason}")

    source = model.path / layout.SERVING_MODEL_DIR
    if not (source / "saved_model.pb").is_file():
        raise DataError(
            f"the Model artifact {model.id} has no serving SavedModel at {source}; "
            "re-run the Trainer that produced it"
        )
    target = serving.serving_target(params.destination, params.model_name or ctx.pipeline_name,
                                    ctx.allow_outside_home)
    identity = {
        "model_id": model.id,
        # The launcher records it on publish; executor tests have none, so compute it.
        "model_fingerprint": model.properties.get("fingerprint") or fingerprint_dir(model.path),
        # Orders blessings: serving never goes from a newer blessing to an older one.
        "blessing_id": blessing.id,
    }
    ctx.progress(0, None, f"copying the model into {target.model_dir}")
    started = time.monotonic()
    result = serving.push(source, target, identity)
    seconds = time.monotonic() - started
    if result.superseded:
        message = (f"not pushed: version {result.version} already serves model "
                   f"{result.record.get('model_id')}, blessed after this one (blessing "
                   f"{result.record.get('blessing_id')} > {blessing.id}); serving stays on the "
                   "newer blessing")
        ctx.log.info("%s", message)
        return ExecutorResult(outcome="skipped", message=message)

    serving.write_pushed_model(ctx.outputs["pushed_model"], result, target.root, target.model_name,
                       model.id)
    if result.created:
        message = f"pushed as version {result.version} to {result.path}"
    else:
        message = f"already serving as version {result.version} ({result.path}); not pushed again"
    if blessing.properties.get("override") == 1:  # `lockgate bless`: say whose decision it was
        message += (f"; blessed by override: {blessing.properties.get('by')}, "
                    f"{blessing.properties.get('reason')} (override execution "
                    f"{blessing.properties.get('override_execution')})")
    return ExecutorResult(
        message=message,
        properties={"version": result.version, "new_version": int(result.created),
                    "push_seconds": round(seconds, 3)},
    )


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"Pusher needs its '{name}' input, but none was resolved")
    return artifact
