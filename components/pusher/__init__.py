"""Pusher: copies a blessed model atomically into TF Serving's layout.

With an ``infra_blessing`` (an InfraValidator upstream, wired by default when there is one),
the model must have passed that canary too.
"""

from __future__ import annotations

from pathlib import PurePath

from pydantic import Field, field_validator

from pipelines.sdk import ComponentSpec, InputSpec, Params


class PusherParams(Params):
    destination: str | None = Field(
        None,
        description="Serving base directory; defaults to $LOCKGATE_HOME/serving. Relative paths "
        "are relative to $LOCKGATE_HOME/serving and may not escape it; no path may contain "
        "'..'; an absolute one outside $LOCKGATE_HOME needs pipeline.allow_outside_home.",
    )
    model_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Serving model name; defaults to the pipeline name.",
    )

    @field_validator("destination")
    @classmethod
    def _no_traversal(cls, value: str | None) -> str | None:
        # Caught here so the config error points at the line; the executor checks again
        # after resolving symlinks.
        if value is not None and ".." in PurePath(value).parts:
            raise ValueError(
                f"'{value}' contains '..'; name the serving directory directly "
                "(relative paths are below $LOCKGATE_HOME/serving)"
            )
        return value


SPEC = ComponentSpec(
    name="Pusher",
    version="1",
    params=PusherParams,
    inputs={
        "model": InputSpec("Model"),
        "blessing": InputSpec("ModelBlessing"),
        "infra_blessing": InputSpec("InfraBlessing", optional=True),
    },
    outputs={"pushed_model": "PushedModel"},
    executor="components.pusher.executor:run",
    description="Pushes a blessed model to <destination>/<model_name>/<version>/.",
    checks="components.pusher.checks:check",
)
