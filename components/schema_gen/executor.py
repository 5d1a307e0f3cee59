"""SchemaGen's executor: import a curated schema.pbtxt, or infer one from a split's statistics.

An imported schema is copied byte for byte, comments included, so the artifact a data engineer
opens reads exactly like the reviewed file in ``schemas/``.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.schema_file import parse_schema_file
from components.schema_gen import SchemaGenParams
from pipelines.sdk import (
    DataError,
    ExecutionContext,
    ExecutorResult,
    layout,
)

_KEY = "SchemaGen.params.schema_file"


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, SchemaGenParams)
    target = Path(ctx.outputs["schema"].uri) / layout.SCHEMA_FILE
    if params.schema_file:
        source = ctx.resolve_path(params.schema_file)
        schema = parse_schema_file(source, key=_KEY)
        shutil.copyfile(source, target)
        how = f"imported {source}"
    else:
        from components.statistics_gen.executor import read_statistics

        statistics = ctx.one("statistics")
        if statistics is None:
            raise DataError("SchemaGen needs an ExampleStatistics input to infer a schema")
        stats = read_statistics(statistics, params.split)
        schema = tfdv.infer_schema(stats, infer_feature_shape=params.infer_feature_shape)
        disallow_unseen_non_finite(schema, stats)
        target.write_text(text_format.MessageToString(schema))
        how = f"inferred from split {params.split}"
    ctx.outputs["schema"].properties.update(
        feature_count=len(schema.feature), source=how,
    )
    return ExecutorResult(message=f"{len(schema.feature)} features, {how}")


def disallow_unseen_non_finite(
    schema: schema_pb2.Schema, stats: statistics_pb2.DatasetFeatureStatisticsList
) -> None:
    """A float feature the inferring split holds no NaN or infinity in disallows them, so the
    ExampleValidator halts when a later span brings them (TFDV's inference allows both)."""
    numeric = {
        ".".join(f.path.step) or f.name: f.num_stats
        for f in stats.datasets[0].features if f.HasField("num_stats")
    }
    for feature in schema.feature:
        num = numeric.get(feature.name)
        if feature.type != schema_pb2.FLOAT or num is None:
            continue
        if not any(h.num_nan for h in num.histograms):
            feature.float_domain.disallow_nan = True
        if not (math.isinf(num.min) or math.isinf(num.max)):
            feature.float_domain.disallow_inf = True
