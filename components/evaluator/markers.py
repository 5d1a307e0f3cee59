"""The ModelBlessing layout, readable without TFMA: the Pusher and rollback import this."""

from __future__ import annotations

import json
from pathlib import Path

from components.verdicts import VerdictLayout

BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
BLESSING_FILE = "blessing.json"
# How many failures a one-line message shows; blessing.json always lists every one.
MESSAGE_FAILURES = 5


def read_reason(directory: Path) -> str:
    """Why a blessing is negative, from its blessing.json (the Pusher's skip message)."""
    path = directory / BLESSING_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"the blessing at {directory} has no readable {BLESSING_FILE}"
    failures = record.get("failures") or []
    reasons = "; ".join(str(f.get("message", f)) for f in failures[:MESSAGE_FAILURES])
    if len(failures) > MESSAGE_FAILURES:
        reasons += f"; and {len(failures) - MESSAGE_FAILURES} more (see {path})"
    return reasons or str(record.get("message", "no reason recorded"))


BLESSING = VerdictLayout("blessing", BLESSED_FILE, NOT_BLESSED_FILE, "Evaluator", read_reason)
