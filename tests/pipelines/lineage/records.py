"""A penguin-shaped lineage recorded straight into a real SQLite MLMD store, without TensorFlow:
ExampleGen -> Trainer -> Evaluator -> Pusher per span, with real blessing.json, summary.json and
a real serving directory (``pipelines.serving.push``). Fast tests of the queries use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.component import Artifact, ComponentSpec, InputSpec, Params
from pipelines.config.models import SqliteMetadata
from pipelines.home import lockgate_home
from pipelines.metadata.store import LineageStore
from pipelines.serving import push, serving_target, write_pushed_model


def spec(name: str, inputs: dict[str, str], outputs: dict[str, str]) -> ComponentSpec:
    return ComponentSpec(
        name=name, version="7", params=Params,
        inputs={port: InputSpec(kind, optional=True) for port, kind in inputs.items()},
        outputs=outputs, executor="tests.pipelines.lineage.records:spec",
    )


GEN = spec("ExampleGen", {}, {"examples": "Examples"})
TRAINER = spec("Trainer", {"examples": "Examples"}, {"model": "Model"})
EVALUATOR = spec("Evaluator", {"examples": "Examples", "model": "Model",
                               "baseline_model": "Model"},
                 {"evaluation": "ModelEvaluation", "blessing": "ModelBlessing"})
PUSHER = spec("Pusher", {"model": "Model", "blessing": "ModelBlessing"},
              {"pushed_model": "PushedModel"})


class Penguin:
    """Records runs of a pipeline named ``penguin`` into $LOCKGATE_HOME's store."""

    def __init__(self) -> None:
        self.store = LineageStore(SqliteMetadata())
        self.root = lockgate_home() / "pipelines" / "penguin"
        self.models: dict[int, Artifact] = {}

    def record(self, spec: ComponentSpec, node: str, run_id: str,
               inputs: dict[str, list[Artifact]], outputs: dict[str, Artifact],
               outcome: str = "complete", message: str = "",
               properties: dict[str, Any] | None = None) -> dict[str, list[Artifact]]:
        contexts = self.store.contexts("penguin", run_id, node)
        execution = self.store.start_execution(spec, node, run_id, contexts, inputs)
        for port, artifact in outputs.items():
            artifact.uri = str(self.root / node / port / str(execution))
            Path(artifact.uri).mkdir(parents=True, exist_ok=True)
            artifact.properties.setdefault("fingerprint", f"fp-{node}-{execution}")
        return self.store.finish_execution(
            execution, contexts, state="FAILED" if outcome == "halted" else "COMPLETE",
            outcome=outcome, message=message, properties=properties,
            outputs={port: [a] for port, a in outputs.items()})

    def run(self, run_id: str, span: int, data: Path, accuracy: float,
            blessed: bool = True) -> Artifact:
        """One span through every node; returns the Model."""
        csv = data / f"span-{span}.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text(f"a,b\n{span},2\n")
        examples = Artifact("Examples", "", properties={
            "span": span, "input_files": json.dumps([str(csv)]),
            "input_file_fingerprints": json.dumps({str(csv): f"file-fp-{span}"}),
            "split_rows": json.dumps({"train": 2 * span, "eval": span}),
            "producer_node": "example_gen",  # as the launcher marks what a node made
        })
        [examples] = self.record(GEN, "example_gen", run_id, {}, {"examples": examples},
                                 message=f"span {span}")["examples"]
        [model] = self.record(TRAINER, "trainer", run_id, {"examples": [examples]},
                              {"model": Artifact("Model", "", properties={"span": span})},
                              properties={"code_files": {"/src/model.py": f"code-{span}"}}
                              )["model"]
        baseline = max(self.models.values(), key=lambda m: m.id or 0, default=None)
        inputs = {"examples": [examples], "model": [model]}
        if baseline is not None:
            inputs["baseline_model"] = [baseline]
        evaluation = Artifact("ModelEvaluation", "")
        blessing = Artifact("ModelBlessing", "", properties={
            "blessed": int(blessed), "model_id": model.id})
        out = self.record(EVALUATOR, "evaluator", run_id, inputs,
                          {"evaluation": evaluation, "blessing": blessing})
        [evaluation], [blessing] = out["evaluation"], out["blessing"]
        self._judge(evaluation, blessing, model, baseline, accuracy, blessed)
        if blessed:
            self.models[span] = model
            self._push(run_id, model, blessing)
        return model

    def _judge(self, evaluation: Artifact, blessing: Artifact, model: Artifact,
               baseline: Artifact | None, accuracy: float, blessed: bool) -> None:
        values: dict[str, float] = {"value": accuracy}
        if baseline is not None:
            values.update(baseline=0.9, change=accuracy - 0.9)
        (evaluation.path / "summary.json").write_text(json.dumps({"slices": {"overall": {
            "sparse_categorical_accuracy": values, "example_count": {"value": 30.0}}}}))
        failures = [] if blessed else [{
            "kind": "lower", "metric": "sparse_categorical_accuracy", "slice": "overall",
            "value": accuracy, "bound": 0.6,
            "message": f"sparse_categorical_accuracy {accuracy} < lower bound 0.6 (overall)"}]
        (blessing.path / ("BLESSED" if blessed else "NOT_BLESSED")).touch()
        (blessing.path / "blessing.json").write_text(json.dumps({
            "blessed": blessed, "model_id": model.id,
            "baseline_model_id": baseline.id if baseline else None,
            "message": "blessed" if blessed else "not blessed", "failures": failures,
            "thresholds": [{"metric": "SparseCategoricalAccuracy", "lower": 0.6,
                            "change": {"direction": "higher_is_better", "absolute": -0.5}}],
        }))

    def _push(self, run_id: str, model: Artifact, blessing: Artifact) -> None:
        source = model.path / "Format-Serving"
        source.mkdir(parents=True, exist_ok=True)
        (source / "saved_model.pb").write_text(f"model {model.id}")
        target = serving_target(None, "penguin")
        result = push(source, target, {"model_id": model.id, "blessing_id": blessing.id,
                                       "model_fingerprint": f"model-{model.id}"})
        pushed = Artifact("PushedModel", "")
        contexts = self.store.contexts("penguin", run_id, "pusher")
        execution = self.store.start_execution(PUSHER, "pusher", run_id, contexts,
                                               {"model": [model], "blessing": [blessing]})
        pushed.uri = str(self.root / "pusher" / "pushed_model" / str(execution))
        write_pushed_model(pushed, result, target.root, "penguin", model.id)
        self.store.finish_execution(execution, contexts, state="COMPLETE", outcome="complete",
                                    outputs={"pushed_model": [pushed]})
