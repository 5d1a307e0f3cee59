"""The public component API: all that a component imports from Lockgate, whether it ships with
Lockgate or is the author's own. Cheap to import (pydantic and the standard library only), so
a module that defines components loads fast at config validation and DAG parse.

A component is a spec and an executor::

    from pipelines.sdk import ExecutionContext, ExecutorResult, Params, component

    class ScoreParams(Params):
        threshold: float = 0.5

    @component(params=ScoreParams, inputs={"model": "Model"}, outputs={"scores": "Scores"})
    def bulk_score(ctx: ExecutionContext) -> ExecutorResult:
        import tensorflow as tf  # heavy imports inside the function
        ...
        return ExecutorResult(message="scored 1,000 rows")

and a config names it ``component: my_pipeline.steps:bulk_score``. ``docs/authoring.md``
explains every part; ``layout`` and ``serving`` hold the on-disk formats of the standard
artifact types and of the serving directory.
"""

from pipelines import layout, serving
from pipelines.beam_mode import direct_workers, uses_direct_runner
from pipelines.component import (
    STANDARD_ARTIFACT_TYPES,
    Artifact,
    ArtifactType,
    CheckContext,
    ComponentDefinitionError,
    ComponentSpec,
    ExecutionContext,
    ExecutorResult,
    Finding,
    InputSpec,
    Params,
    component,
    config_path,
)
from pipelines.errors import ConfigError, ConfigIssue, DataError, LockgateError, UserCodeError
from pipelines.fingerprint import fingerprint_dir, fingerprint_paths
from pipelines.span_dates import date_of_span, span_of_date
from pipelines.trainer_args import TrainedModel, TrainerArgs
from pipelines.user_code import UserFunction, load_user_function
from pipelines.windows import SpanWindow

__all__ = [
    "STANDARD_ARTIFACT_TYPES",
    "Artifact",
    "ArtifactType",
    "CheckContext",
    "ComponentDefinitionError",
    "ComponentSpec",
    "ConfigError",
    "ConfigIssue",
    "DataError",
    "ExecutionContext",
    "ExecutorResult",
    "Finding",
    "InputSpec",
    "LockgateError",
    "Params",
    "SpanWindow",
    "TrainedModel",
    "TrainerArgs",
    "UserCodeError",
    "UserFunction",
    "component",
    "config_path",
    "date_of_span",
    "direct_workers",
    "fingerprint_dir",
    "fingerprint_paths",
    "layout",
    "load_user_function",
    "serving",
    "span_of_date",
    "uses_direct_runner",
]
