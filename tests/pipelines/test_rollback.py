"""``lockgate rollback`` through the CLI, on a real SQLite MLMD store and real SavedModels.

The Trainer and Evaluator executions are recorded with ``LineageStore`` (their artifacts in the
real layouts); the Pusher runs for real through the launcher, so the PushedModels and their
lineage are exactly what a pipeline run leaves behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.evaluator.markers import BLESSED_FILE, BLESSING_FILE, NOT_BLESSED_FILE
from pipelines.cli import main
from pipelines.component import Artifact
from pipelines.fingerprint import fingerprint_dir
from pipelines.graph import Pipeline, build_pipeline
from pipelines.launcher import launch
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.sdk import layout
from pipelines.serving import push, read_manifest, serving_target, versions
from tests.components.test_pusher import save_model
from tests.helpers import REPO

PENGUIN = REPO / "configs" / "penguin.yaml"


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Three different real SavedModels, by the number they multiply their input with."""
    models = {}
    for scale in (1, 2, 3):
        path = tmp_path_factory.mktemp(f"saved-{scale}") / "model"
        save_model(path, float(scale))
        models[scale] = path
    return models


class Lineage:
    """Records Trainer and Evaluator executions of a penguin run, then launches its Pusher."""

    def __init__(self, home: Path, saved_models: dict[int, Path]) -> None:
        self.pipeline: Pipeline = build_pipeline(load_config(PENGUIN))
        self.store = LineageStore(self.pipeline.config.metadata)
        self.home = home
        self.saved_models = saved_models

    def record(self, node_id: str, run_id: str, outputs: dict[str, list[Artifact]],
               inputs: dict[str, list[Artifact]] | None = None) -> dict[str, list[Artifact]]:
        contexts = self.store.contexts(self.pipeline.name, run_id, node_id)
        spec = self.pipeline.nodes[node_id].spec
        execution = self.store.start_execution(spec, node_id, run_id, contexts, inputs or {})
        return self.store.finish_execution(execution, contexts, state="COMPLETE",
                                           outcome="complete", outputs=outputs)

    def model(self, run_id: str, scale: int) -> Artifact:
        import shutil

        uri = self.home / "artifacts" / run_id / "model"
        shutil.copytree(self.saved_models[scale], uri / layout.SERVING_MODEL_DIR)
        model = Artifact("Model", str(uri), properties={"fingerprint": fingerprint_dir(uri)})
        [model] = self.record("trainer", run_id, {"model": [model]})["model"]
        return model

    def blessing(self, run_id: str, model: Artifact, blessed: bool) -> Artifact:
        uri = self.home / "artifacts" / run_id / "blessing"
        uri.mkdir(parents=True)
        (uri / (BLESSED_FILE if blessed else NOT_BLESSED_FILE)).touch()
        (uri / BLESSING_FILE).write_text(json.dumps({"blessed": blessed, "failures": []}))
        blessing = Artifact("ModelBlessing", str(uri),
                            properties={"blessed": int(blessed), "model_id": model.id})
        evaluation = Artifact("ModelEvaluation", str(uri.with_name("evaluation")))
        outputs = self.record("evaluator", run_id, {"blessing": [blessing],
                                                    "evaluation": [evaluation]},
                              inputs={"model": [model]})
        return outputs["blessing"][0]

    def run(self, run_id: str, scale: int, blessed: bool = True) -> Artifact:
        """A run whose model multiplies by ``scale``; returns its Model."""
        model = self.model(run_id, scale)
        self.blessing(run_id, model, blessed)
        launch(self.pipeline, "pusher", run_id, store=self.store)
        return model

    def served(self) -> list[int]:
        return versions(serving_target(None, "penguin"))

    def version_dir(self, version: int) -> Path:
        return serving_target(None, "penguin").version_dir(version)


@pytest.fixture
def lineage(lockgate_home: Path, saved_models: dict[int, Path]) -> Lineage:
    return Lineage(lockgate_home, saved_models)


def rollback(*args: str) -> int:
    return main(["rollback", str(PENGUIN), *args, "--reason", "version 3 answers wrongly"])


def rollback_executions(store: LineageStore) -> list[Any]:
    types = {t.id: t.name for t in store.mlmd.get_execution_types()}
    return [e for e in store.mlmd.get_executions() if types[e.type_id] == "lockgate.Rollback"]


def test_rollback_serves_the_previous_blessed_model_as_a_new_version(
    lineage: Lineage, capsys: pytest.CaptureFixture[str]
) -> None:
    import tensorflow as tf

    first = lineage.run("r1", scale=1)
    second = lineage.run("r2", scale=2)
    assert lineage.served() == [1, 2]

    assert rollback() == 0  # default: the version before the current one
    out = capsys.readouterr().out
    assert "version 3 now serves model" in out and "copied from version 1" in out
    assert lineage.served() == [1, 2, 3]
    assert fingerprint_dir(lineage.version_dir(3)) == fingerprint_dir(lineage.version_dir(1))
    served = tf.saved_model.load(str(lineage.version_dir(3)))
    assert served.signatures["serving_default"](tf.constant([5.0]))["y"].numpy() == [5.0]

    # Lineage: a Rollback execution read the restored Model and wrote a new PushedModel.
    store = lineage.store
    [execution] = rollback_executions(store)
    assert execution.last_known_state == store.pb.Execution.COMPLETE
    inputs = store.inputs_of(execution.id)
    assert [m.id for m in inputs["model"]] == [first.id]
    assert inputs["blessing"][0].properties["model_id"] == first.id
    assert inputs["restored"][0].properties["version"] == 1
    [pushed] = store.outputs_of(execution.id)["pushed_model"]
    assert pushed.properties["version"] == 3 and pushed.properties["restored_from"] == 1
    record = json.loads(Path(pushed.uri, "push.json").read_text())
    assert (record["version"], record["model_id"]) == (3, first.id)
    assert read_manifest(serving_target(None, "penguin"))["3"]["model_id"] == first.id

    # Rolling forward again works through the rollback's own lineage (version 3 -> model 1).
    assert rollback("--to", "2") == 0
    assert lineage.served() == [1, 2, 3, 4]
    assert fingerprint_dir(lineage.version_dir(4)) == fingerprint_dir(lineage.version_dir(2))
    assert read_manifest(serving_target(None, "penguin"))["4"]["model_id"] == second.id


def test_rollback_refuses_unblessed_unknown_and_missing_versions(
    lineage: Lineage, capsys: pytest.CaptureFixture[str]
) -> None:
    lineage.run("r1", scale=1)
    target = serving_target(None, "penguin")
    # Version 2: copied in by hand; MLMD knows nothing about it.
    push(lineage.version_dir(1), target, {"model_id": None, "model_fingerprint": "by-hand"})
    # Version 3: pushed (as an older tool might have) from a model the Evaluator refused.
    unblessed = lineage.run("r2", scale=2, blessed=False)
    assert lineage.served() == [1, 2]  # the real Pusher skipped the unblessed model
    result = push(Path(unblessed.uri) / layout.SERVING_MODEL_DIR, target,
                  {"model_id": unblessed.id})
    pushed = Artifact("PushedModel", str(lineage.home / "manual-push"),
                      properties={"version": result.version, "model_name": "penguin"})
    Path(pushed.uri).mkdir()
    lineage.record("pusher", "manual", {"pushed_model": [pushed]},
                   inputs={"model": [unblessed]})
    lineage.run("r3", scale=3)  # version 4: blessed, the current one
    assert lineage.served() == [1, 2, 3, 4]
    before = fingerprint_dir(lineage.home / "serving")
    executions = len(lineage.store.mlmd.get_executions())
    capsys.readouterr()

    assert rollback() == 2  # the default, version 3, is the unblessed one
    assert f"holds model {unblessed.id}, which no Evaluator" in capsys.readouterr().err
    assert rollback("--to", "2") == 2
    assert "no PushedModel for it" in capsys.readouterr().err
    assert rollback("--to", "9") == 2
    assert "version 9 is not in" in capsys.readouterr().err
    assert fingerprint_dir(lineage.home / "serving") == before
    assert len(lineage.store.mlmd.get_executions()) == executions  # nothing recorded

    assert rollback("--to", "1") == 0  # the blessed one is still allowed
    assert lineage.served() == [1, 2, 3, 4, 5]


def test_rollback_with_nothing_pushed_is_refused(
    lockgate_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollback() == 2
    assert "nothing has been pushed" in capsys.readouterr().err
