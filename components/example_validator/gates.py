"""The checks that make the validator a gate for training data, beside TFDV's schema checks.

Where TFDV has the check, it is TFDV's, configured from the params: the minimum number of
examples per split (``dataset_constraints.min_examples_count``), label drift against the
previous span (a drift comparator on the label), NaN and infinity in a float feature whose
schema disallows them. Lockgate adds what TFDV has no anomaly for: a label with one class only,
and the NaN and infinity counts. Every finding carries its numbers and what to do.
"""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.example_validator import ExampleValidatorParams
from components.example_validator.report import (
    ADVICE,
    INF_VALUES,
    NAN_VALUES,
    ONE_CLASS,
    Finding,
    feature_stats,
    inf_count,
    nan_count,
)


def configure(schema: schema_pb2.Schema, params: ExampleValidatorParams) -> None:
    """Put the params' TFDV-native gates into the schema used for this validation."""
    if params.min_examples:
        constraints = schema.dataset_constraints
        constraints.min_examples_count = max(constraints.min_examples_count, params.min_examples)
    label = _feature(schema, params.label_key)
    if label is not None and params.label_drift and params.label_key not in params.drift:
        if is_categorical(schema, label):
            label.drift_comparator.infinity_norm.threshold = params.label_drift
        else:
            label.drift_comparator.jensen_shannon_divergence.threshold = params.label_drift


def findings(
    split: str, stats: statistics_pb2.DatasetFeatureStatistics, schema: schema_pb2.Schema,
    params: ExampleValidatorParams,
) -> list[Finding]:
    """Lockgate's own findings for one split."""
    found = []
    label = params.label_key
    if label:
        found += _one_class(split, stats, label)
    for feature in schema.feature:
        if feature.type == schema_pb2.FLOAT:
            found += _non_finite(split, stats, feature)
    return found


def _one_class(split: str, stats: statistics_pb2.DatasetFeatureStatistics,
               label: str) -> list[Finding]:
    label_stats = feature_stats(stats, label)
    if label_stats is None:
        return []  # a missing label column is TFDV's schema anomaly
    classes = _distinct(label_stats)
    if classes is None or classes > 1:
        return []
    value = _only_value(label_stats)
    return [Finding(
        split=split, feature=label, severity="error", short="one class only",
        description=f"Every one of the {stats.num_examples:,} examples has the label "
        f"{value}.", reasons=(ONE_CLASS,), advice=ADVICE[ONE_CLASS],
    )]


def _distinct(stats: statistics_pb2.FeatureNameStatistics) -> int | None:
    if stats.HasField("string_stats"):
        return int(stats.string_stats.unique)
    if stats.HasField("num_stats"):
        num = stats.num_stats
        if num.common_stats.num_non_missing == 0:
            return None
        return 1 if num.min == num.max else 2  # at least two
    return None


def _only_value(stats: statistics_pb2.FeatureNameStatistics) -> str:
    if stats.HasField("string_stats") and stats.string_stats.top_values:
        return repr(stats.string_stats.top_values[0].value)
    return f"{stats.num_stats.min:g}"


def _non_finite(split: str, stats: statistics_pb2.DatasetFeatureStatistics,
                feature: schema_pb2.Feature) -> list[Finding]:
    """NaN and infinity the schema allows: warnings with their counts (disallowed ones are
    TFDV's errors)."""
    feature_stat = feature_stats(stats, feature.name)
    if feature_stat is None or not feature_stat.HasField("num_stats"):
        return []
    found = []
    nan, total = nan_count(feature_stat)
    if nan and not feature.float_domain.disallow_nan:
        found.append(Finding(
            split=split, feature=feature.name, severity="warning", short="NaN values",
            description=f"{nan:,} of {total:,} values are NaN.", reasons=(NAN_VALUES,),
            advice=ADVICE[NAN_VALUES],
        ))
    infinite, _ = inf_count(feature_stat)
    if infinite and not feature.float_domain.disallow_inf:
        found.append(Finding(
            split=split, feature=feature.name, severity="warning", short="infinite values",
            description=f"{infinite:,} of {total:,} values are infinite.", reasons=(INF_VALUES,),
            advice=ADVICE[INF_VALUES],
        ))
    return found


def _feature(schema: schema_pb2.Schema, name: str | None) -> schema_pb2.Feature | None:
    return next((f for f in schema.feature if f.name == name), None) if name else None


def is_categorical(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> bool:
    """Strings, booleans, and ints the schema marks categorical have category shares to
    compare; everything else is numeric and compared by histogram."""
    if feature.type == schema_pb2.BYTES:
        return True
    if feature.HasField("bool_domain") or feature.HasField("string_domain"):
        return True
    if feature.HasField("int_domain"):
        return feature.int_domain.is_categorical
    if feature.HasField("domain"):  # a named schema-level domain
        if any(d.name == feature.domain for d in schema.string_domain):
            return True
        return any(d.name == feature.domain and d.is_categorical for d in schema.int_domain)
    return False
