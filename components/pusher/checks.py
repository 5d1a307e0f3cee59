"""The Pusher's config checks: a destination that would write outside the serving root, or
outside LOCKGATE_HOME without `pipeline.allow_outside_home`, is reported at its line."""

from __future__ import annotations

from collections.abc import Iterator

from components.pusher import PusherParams
from pipelines.sdk import CheckContext, Finding, serving


def check(params: PusherParams, ctx: CheckContext) -> Iterator[Finding]:
    if params.destination is None:
        return
    try:
        # The model name does not change where the destination lies; any valid one will do.
        serving.serving_target(params.destination, params.model_name or "model",
                               ctx.allow_outside_home)
    except serving.ServingPathError as exc:
        yield Finding(("destination",), str(exc))
