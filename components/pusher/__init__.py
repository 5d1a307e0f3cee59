"""Pusher: copies a blessed model atomically into TF Serving's layout."""

from __future__ import annotations

from pydantic import Field

from pipelines.component import ComponentSpec, InputSpec, Params


class PusherParams(Params):
    destination: str | None = Field(
        None,
        description="Serving base directory; defaults to $LOCKGATE_HOME/serving. Relative paths "
        "are relative to $LOCKGATE_HOME/serving and may not escape it.",
    )
    model_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Serving model name; defaults to the pipeline name.",
    )


SPEC = ComponentSpec(
    name="Pusher",
    version="1",
    params=PusherParams,
    inputs={"model": InputSpec("Model"), "blessing": InputSpec("ModelBlessing")},
    outputs={"pushed_model": "PushedModel"},
    executor="components.pusher.executor:run",
    description="Pushes a blessed model to <destination>/<model_name>/<version>/.",
)
