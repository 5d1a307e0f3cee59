"""The InfraBlessing layout, readable without TensorFlow: the Pusher and BulkInferrer read it.

``<uri>/INFRA_BLESSED`` or ``<uri>/INFRA_NOT_BLESSED``, plus ``infra_blessing.json`` (the
measurements and, when refused, the reason); properties: blessed (1/0), model_id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.sdk import Artifact

INFRA_BLESSED_FILE = "INFRA_BLESSED"
INFRA_NOT_BLESSED_FILE = "INFRA_NOT_BLESSED"
INFRA_BLESSING_FILE = "infra_blessing.json"


def write_infra_blessing(directory: Path, blessed: bool, record: dict[str, Any]) -> None:
    (directory / (INFRA_BLESSED_FILE if blessed else INFRA_NOT_BLESSED_FILE)).touch()
    payload = {"blessed": blessed, **record}
    (directory / INFRA_BLESSING_FILE).write_text(json.dumps(payload, indent=2) + "\n")


def read_reason(directory: Path) -> str:
    """Why the canary refused the model, from its infra_blessing.json."""
    path = directory / INFRA_BLESSING_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"the infra blessing at {directory} has no readable {INFRA_BLESSING_FILE}"
    return str(record.get("reason") or "no reason recorded")


def infra_unblessed_reason(blessing: Artifact, model: Artifact) -> str | None:
    """None when ``blessing`` infra-blesses ``model``; otherwise why not, for people to read.

    Marker file and MLMD property must agree, and the blessing must be about this model, so a
    canary of another model (mis-wired, or from another run) never lets this one through.
    """
    if (blessing.path / INFRA_NOT_BLESSED_FILE).is_file() or blessing.properties.get(
        "blessed"
    ) == 0:
        return read_reason(blessing.path)
    if not (blessing.path / INFRA_BLESSED_FILE).is_file():
        return f"the infra blessing at {blessing.uri} has no {INFRA_BLESSED_FILE} marker"
    blessed_model = blessing.properties.get("model_id")
    if blessed_model is not None and model.id is not None and int(blessed_model) != model.id:
        return (
            f"the infra blessing is for model {blessed_model}, not for model {model.id}; wire "
            "the model and infra_blessing inputs to the same InfraValidator run"
        )
    return None
