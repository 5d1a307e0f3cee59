"""The InfraValidator refusing a model end to end: an accurate model whose serving signature
raises on single-example requests passes the Evaluator (which scores whole batches), is refused
by the canary (which sends one example per request, as a model server gets them), and so is
neither pushed nor used for bulk inference. The reason is recorded in MLMD.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.infra_validator.markers import INFRA_BLESSING_FILE, INFRA_NOT_BLESSED_FILE
from pipelines.cli import main
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from tests.e2e.configs import REPO, component, config_variant

pytestmark = pytest.mark.e2e
REFUSAL = "this model needs at least two examples per request"

# Appended to a copy of the shipped penguin model: a layer that raises at serving time on a
# request of one example, the kind of bug batch-level evaluation never meets.
REFUSING_LAYER = f'''

class RefusesSingleExamples(keras.layers.Layer):
    """Passes its input through, but fails any batch of fewer than two examples."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        check = tf.debugging.assert_greater(tf.shape(x)[0], 1, message="{REFUSAL}")
        with tf.control_dependencies([check]):
            return tf.identity(x)
'''


def refusing_model(tmp_path: Path) -> Path:
    source = (REPO / "examples" / "penguin" / "model.py").read_text()
    concat = "x = keras.layers.Concatenate()(list(inputs.values()))\n"
    assert concat in source
    source = source.replace(concat, concat + "    x = RefusesSingleExamples()(x)\n")
    path = tmp_path / "refusing_model.py"
    path.write_text(source + REFUSING_LAYER)
    return path


def test_canary_refuses_a_model_whose_signature_raises_and_nothing_is_pushed(
    tmp_path: Path, lockgate_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = refusing_model(tmp_path)

    def variant(config: dict[str, Any]) -> None:
        trainer = component(config, "Trainer")["params"]
        trainer.update(module_file=str(module), train_steps=100, eval_steps=5)
        # Any accuracy passes: the Evaluator must bless the model so the canary decides.
        metrics = component(config, "Evaluator")["params"]["metrics"]
        metrics[0]["threshold"] = {"lower": 0.0}

    config = config_variant(tmp_path, variant)
    assert main(["run", str(config), "--run-id", "canary"]) == 0
    out = capsys.readouterr().out
    assert "not infra blessed" in out

    store = LineageStore(load_config(config).metadata)
    executions = {e.node_id: e for e in store.run_executions("penguin", "canary")}
    [blessing] = store.outputs_of(executions["evaluator"].id)["blessing"]
    assert blessing.properties["blessed"] == 1  # accurate enough: the Evaluator let it through

    validator = executions["infra_validator"]
    assert (validator.state, validator.outcome) == ("COMPLETE", "complete")
    assert validator.message.startswith("not infra blessed: the serving signature failed on "
                                        "the warm-up request: InvalidArgumentError")
    assert REFUSAL in validator.message
    [infra] = store.outputs_of(validator.id)["infra_blessing"]
    [model] = store.outputs_of(executions["trainer"].id)["model"]
    assert infra.properties["blessed"] == 0 and infra.properties["model_id"] == model.id
    assert (Path(infra.uri) / INFRA_NOT_BLESSED_FILE).is_file()
    record = json.loads((Path(infra.uri) / INFRA_BLESSING_FILE).read_text())
    assert REFUSAL in record["reason"] and record["answered_requests"] == 0

    pusher = executions["pusher"]
    assert pusher.outcome == "skipped"
    assert pusher.message.startswith("not infra blessed: ") and REFUSAL in pusher.message
    assert store.inputs_of(pusher.id)["infra_blessing"][0].id == infra.id
    assert store.outputs_of(pusher.id) == {}
    serving = lockgate_home / "serving"
    assert not (serving / "penguin").exists() or not any((serving / "penguin").iterdir())

    inferrer = executions["bulk_inferrer"]
    assert inferrer.outcome == "skipped" and REFUSAL in inferrer.message
