"""The InfraBlessing layout, readable without TensorFlow: the Pusher and BulkInferrer read it.

``<uri>/INFRA_BLESSED`` or ``<uri>/INFRA_NOT_BLESSED``, plus ``infra_blessing.json`` (the
measurements and, when refused, the reason); properties: blessed (1/0), model_id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.verdicts import VerdictLayout

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


INFRA_BLESSING = VerdictLayout("infra blessing", INFRA_BLESSED_FILE, INFRA_NOT_BLESSED_FILE,
                               "InfraValidator", read_reason)
