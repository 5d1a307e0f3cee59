"""One-node pipelines whose executor raises a chosen error, for the operator's outcome mapping.

They run through the real launcher and a real SQLite MLMD; only the executor is tiny.
"""

from __future__ import annotations

from typing import Literal

from pipelines.component import ComponentSpec, ExecutionContext, ExecutorResult, Params
from pipelines.config.models import PipelineConfig
from pipelines.errors import DataError, UserCodeError
from pipelines.graph import Node, Pipeline


class RaiseParams(Params):
    error: Literal["data", "user_code", "runtime"] = "runtime"


def raise_error(ctx: ExecutionContext) -> ExecutorResult:
    error = ctx.params.error  # type: ignore[attr-defined]
    if error == "data":
        raise DataError("column 'body_mass_g' is missing", count=342, examples=["row 1", "row 2"])
    if error == "user_code":
        raise UserCodeError(ctx.node_id, "model.py", ZeroDivisionError("division by zero"))
    raise MemoryError("worker ran out of memory")


SPEC = ComponentSpec(
    name="Raiser", version="1", params=RaiseParams, inputs={},
    outputs={"examples": "Examples"}, executor=f"{__name__}:raise_error",
)


def raising_pipeline(error: str) -> Pipeline:
    config = PipelineConfig.model_validate(
        {"pipeline": {"name": "raiser"}, "components": [{"component": "StatisticsGen"}]}
    )
    entry = config.components[0].model_copy(update={"params": RaiseParams(error=error)})
    return Pipeline(config, {"node": Node("node", entry, SPEC, ())})
