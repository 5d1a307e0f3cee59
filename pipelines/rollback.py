"""``lockgate rollback CONFIG [--to VERSION]``: serve an earlier blessed model again.

TF Serving serves the highest version, so a rollback pushes the earlier version's files again
as a new, higher version (numbers stay monotonic; nothing is deleted or renamed in place). It
refuses a version unless ML Metadata shows this pipeline pushed it and an Evaluator of this
pipeline blessed the model it holds. The rollback is recorded as a ``lockgate.Rollback``
execution with INPUT events on that Model, its blessing and the PushedModel restored, and an
OUTPUT event on the new PushedModel, so lineage explains every served version.

The restored model becomes the next Evaluator's baseline (a ``lockgate.Override`` of kind
``baseline-set``, see ``pipelines/overrides.py``), unless ``--keep-baseline``.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.component import Artifact, ComponentSpec, InputSpec, Params
from pipelines.fingerprint import fingerprint_dir
from pipelines.graph import Node, build_pipeline
from pipelines.loading import load_config
from pipelines.metadata.store import Contexts, LineageStore
from pipelines.overrides import Refused, check_reason, who
from pipelines.serving import (
    ServingTarget,
    push,
    read_manifest,
    same_model,
    serving_target,
    versions,
    write_pushed_model,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
NODE_ID = "rollback"

ROLLBACK = ComponentSpec(
    name="Rollback",
    version="1",
    params=Params,
    inputs={
        "model": InputSpec("Model"),
        "blessing": InputSpec("ModelBlessing"),
        "restored": InputSpec("PushedModel"),
    },
    outputs={"pushed_model": "PushedModel"},
    executor="pipelines.rollback:rollback",  # never launched; names the execution type
    description="Serves an earlier blessed model again as a new version.",
)


@dataclass(frozen=True)
class Restorable:
    """A served version, with the MLMD records that prove it may be served again."""

    version: int
    pushed: Artifact
    model: Artifact
    blessing: Artifact


def rollback(config_path: Path, to_version: int | None, keep_baseline: bool = False,
             reason: str | None = None, by: str | None = None) -> int:
    """Push version ``to_version`` (default: the one before the newest) again; exit code.

    Serving an older model is a decision someone answers for, so it needs a ``reason``,
    recorded with who on the rollback execution. Unless ``keep_baseline``, the restored model
    also becomes the next Evaluator's baseline (a ``lockgate.Override`` with the same reason),
    so a candidate is judged against what is served.
    """
    pipeline = build_pipeline(load_config(config_path))
    try:
        reason = check_reason(reason)
        node = _pusher_node(list(pipeline.nodes.values()), config_path)
        params = node.entry.params
        target = serving_target(
            getattr(params, "destination", None),
            getattr(params, "model_name", None) or pipeline.name,
            pipeline.config.pipeline.allow_outside_home,
        )
        served = versions(target)
        version = _chosen_version(served, to_version, target.model_dir)
        current = served[-1]
        manifest = read_manifest(target)
        if version == current or same_model(manifest.get(str(version)),
                                            manifest.get(str(current)) or {}):
            print(f"{pipeline.name}: version {current} already serves what version {version} "
                  "holds; nothing to roll back")
            return EXIT_OK
        store = LineageStore(pipeline.config.metadata)
        restorable = _restorable(store, pipeline.name, target, version)
    except Refused as refusal:
        print(f"lockgate rollback: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED

    run_id = f"rollback-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
    contexts = store.contexts(pipeline.name, run_id, NODE_ID)
    inputs = {
        "model": [restorable.model],
        "blessing": [restorable.blessing],
        "restored": [restorable.pushed],
    }
    execution_id = store.start_execution(ROLLBACK, NODE_ID, run_id, contexts, inputs)
    try:
        message, pushed = _push_again(
            pipeline.config.root, execution_id, target, restorable, manifest, current
        )
    except BaseException as exc:
        store.finish_execution(execution_id, contexts, state="FAILED", outcome="failed",
                               message=f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, Exception):
            raise
        print(f"lockgate rollback: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    person = who(by)
    _finish(store, execution_id, contexts, message, pushed, {"by": person, "reason": reason})
    print(f"{pipeline.name}: {message} (execution {execution_id}, run {run_id})")
    if not keep_baseline:
        from pipelines.override_commands import set_baseline

        override = set_baseline(store, pipeline, restorable.model, person,
                                f"lockgate rollback to version {version} (execution "
                                f"{execution_id}): {reason}")
        print(f"{pipeline.name}: the next Evaluator compares with model "
              f"{restorable.model.id} (override execution {override}; --keep-baseline "
              "leaves the baseline alone)")
    return EXIT_OK


def _pusher_node(nodes: list[Node], config_path: Path) -> Node:
    pushers = [n for n in nodes if "PushedModel" in n.spec.outputs.values()]
    if len(pushers) != 1:
        found = ", ".join(n.id for n in pushers) or "none"
        raise Refused(
            f"{config_path} must have exactly one Pusher to roll back, found {found}"
        )
    return pushers[0]


def _chosen_version(served: list[int], to_version: int | None, model_dir: Path) -> int:
    if not served:
        raise Refused(f"nothing has been pushed to {model_dir} yet")
    if to_version is None:
        if len(served) < 2:
            raise Refused(
                f"{model_dir} holds only version {served[0]}; there is no earlier version"
            )
        return served[-2]
    if to_version not in served:
        raise Refused(
            f"version {to_version} is not in {model_dir}; its versions are "
            f"{', '.join(map(str, served))} (pass one with --to)"
        )
    return to_version


def _restorable(
    store: LineageStore, pipeline: str, target: ServingTarget, version: int
) -> Restorable:
    """The PushedModel, Model and positive ModelBlessing behind ``version``, or ``Refused``."""
    model_name = target.model_name
    context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline)
    if context is None:
        raise Refused(f"ML Metadata has no pipeline '{pipeline}'; was it ever run here?")
    pushes = [
        a for a in store.artifacts_in(context, "PushedModel")
        if a.properties.get("version") == version
        and a.properties.get("model_name", model_name) == model_name
        and a.properties.get("destination", str(target.root)) == str(target.root)
    ]
    if not pushes:
        raise Refused(
            f"version {version} of '{model_name}' was not pushed by pipeline '{pipeline}' "
            "(ML Metadata has no PushedModel for it), so nothing shows it was ever blessed"
        )
    blessings = [
        b for b in store.artifacts_in(context, "ModelBlessing")
        if b.properties.get("blessed") == 1
    ]
    models = []
    for pushed in reversed(pushes):
        model = _pushed_from(store, pushed)
        if model is None:
            continue
        models.append(model)
        for blessing in reversed(blessings):
            if blessing.properties.get("model_id") == model.id:
                return Restorable(version, pushed, model, blessing)
    if not models:
        raise Refused(
            f"ML Metadata records no Model as the input of the push that made version "
            f"{version}; its lineage is incomplete, so it cannot be shown to be blessed"
        )
    ids = ", ".join(str(m.id) for m in models)
    raise Refused(
        f"version {version} holds model {ids}, which no Evaluator of pipeline '{pipeline}' "
        "ever blessed; only blessed models may be served"
    )


def _pushed_from(store: LineageStore, pushed: Artifact) -> Artifact | None:
    """The Model the execution that wrote ``pushed`` read (Pusher or an earlier rollback)."""
    events = store.mlmd.get_events_by_artifact_ids([pushed.id or 0])
    producers = [e.execution_id for e in events if e.type == store.pb.Event.OUTPUT]
    for execution_id in producers:
        models = store.inputs_of(execution_id).get("model")
        if models:
            return models[0]
    return None


def _push_again(
    root: Path,
    execution_id: int,
    target: ServingTarget,
    restorable: Restorable,
    manifest: dict[str, dict[str, object]],
    current: int,
) -> tuple[str, Artifact]:
    old = manifest.get(str(restorable.version), {})
    identity = {
        "model_id": restorable.model.id,
        "model_fingerprint": old.get("model_fingerprint")
        or restorable.model.properties.get("fingerprint"),
        "restored_from": restorable.version,
        "blessing_id": restorable.blessing.id,
    }
    result = push(target.version_dir(restorable.version), target, identity, allow_older=True)
    output = Artifact(type="PushedModel",
                      uri=str(root / NODE_ID / "pushed_model" / str(execution_id)))
    write_pushed_model(output, result, target.root, target.model_name, restorable.model.id,
                       restored_from=restorable.version)
    output.properties["restored_from"] = restorable.version
    output.properties["producer_node"] = NODE_ID
    output.properties["fingerprint"] = fingerprint_dir(output.path)
    if result.created:
        message = (
            f"rolled back: version {result.version} now serves model {restorable.model.id}, "
            f"copied from version {restorable.version} (was version {current})"
        )
    else:
        message = f"version {result.version} already serves model {restorable.model.id}"
    return message, output


def _finish(
    store: LineageStore, execution_id: int, contexts: Contexts, message: str, pushed: Artifact,
    audit: dict[str, str],
) -> None:
    store.finish_execution(execution_id, contexts, state="COMPLETE", outcome="complete",
                           message=message, outputs={"pushed_model": [pushed]},
                           properties=audit)
