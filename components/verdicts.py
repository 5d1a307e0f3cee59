"""Whether a verdict artifact (a ModelBlessing, an InfraBlessing) lets a model through.

A verdict is a marker file (yes or no), a ``blessed`` property and a ``model_id``. The marker
and the property must agree, and the verdict must be about this model, so a verdict on another
model (mis-wired, or from another run) never lets this one through. The Pusher, the
InfraValidator and the BulkInferrer all ask the same question; each layout is defined once, in
the markers module of the component that writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.sdk import Artifact


@dataclass(frozen=True)
class VerdictLayout:
    what: str  # "blessing", "infra blessing": how messages name it
    yes_file: str
    no_file: str
    producer: str  # the component that writes it, for the wiring hint
    read_reason: Callable[[Path], str]  # why a negative verdict is negative


def refusal(layout: VerdictLayout, verdict: Artifact, model: Artifact) -> str | None:
    """None when ``verdict`` passes ``model``; otherwise why not, for people to read."""
    if (verdict.path / layout.no_file).is_file() or verdict.properties.get("blessed") == 0:
        return layout.read_reason(verdict.path)
    if not (verdict.path / layout.yes_file).is_file():
        return f"the {layout.what} at {verdict.uri} has no {layout.yes_file} marker"
    about = verdict.properties.get("model_id")
    if about is not None and model.id is not None and int(about) != model.id:
        return (f"the {layout.what} is for model {about}, not for model {model.id}; wire the "
                f"model and the {layout.what} to the same {layout.producer} run")
    return None
