"""InfraValidator: a canary that loads the candidate SavedModel in a contained process and
serves it real raw examples before the Pusher may push it.

The Evaluator proves a model is accurate; this proves it loads and answers in a fresh process,
fast enough and within a memory budget, the way a model server will run it. A model that
crashes, raises in its signature, hangs or is too slow gets an INFRA_NOT_BLESSED InfraBlessing
with the reason (the node itself completes), and a Pusher wired to it does not push.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from pipelines.sdk import ComponentSpec, InputSpec, Params


class InfraValidatorParams(Params):
    split: str = Field("eval", description="The split of the examples to sample requests from.")
    requests: int = Field(
        100, gt=0, le=100_000,
        description="Raw examples to send; repeated when the split has fewer.",
    )
    batch_size: int = Field(
        1, gt=0, description="Examples per request (one call of the serving signature)."
    )
    signature_name: str = Field(
        "serving_default", description="Signature taking serialized raw tf.Examples."
    )
    timeout_seconds: float = Field(
        60.0, gt=0,
        description="Loading the model and answering every request must take no longer; a "
        "model that hangs is killed at this point and not blessed.",
    )
    startup_timeout_seconds: float = Field(
        180.0, gt=0,
        description="Allowed for the serving process to start and import TensorFlow, before "
        "the model is touched (infrastructure, not the model).",
    )
    max_latency_p50_ms: float | None = Field(
        None, gt=0, description="Median request latency bound, after one warm-up request."
    )
    max_latency_p99_ms: float | None = Field(
        None, gt=0, description="99th-percentile request latency bound."
    )
    max_memory_mb: float | None = Field(
        4096.0, gt=0,
        description="Peak resident memory of the serving process (TensorFlow's runtime, about "
        "0.5 GB, included); the process is killed as soon as it is exceeded.",
    )
    require_blessing: bool = Field(
        True,
        description="With a ModelBlessing input, a model the Evaluator refused is not served "
        "at all (it will not be pushed anyway): its InfraBlessing is negative and says so.",
    )

    @model_validator(mode="after")
    def _ordered_bounds(self) -> InfraValidatorParams:
        p50, p99 = self.max_latency_p50_ms, self.max_latency_p99_ms
        if p50 is not None and p99 is not None and p50 > p99:
            raise ValueError(
                f"max_latency_p50_ms ({p50}) is above max_latency_p99_ms ({p99}); the median "
                "can never exceed the 99th percentile"
            )
        return self


SPEC = ComponentSpec(
    name="InfraValidator",
    version="1",
    params=InfraValidatorParams,
    inputs={
        "model": InputSpec("Model"),
        "examples": InputSpec("Examples", prefer_component="ExampleGen"),
        "blessing": InputSpec("ModelBlessing", optional=True),
    },
    outputs={"infra_blessing": "InfraBlessing"},
    executor="components.infra_validator.executor:run",
    description="Serves the model real examples in a contained process; blesses it only if "
    "every request answers within the latency and memory bounds.",
)
