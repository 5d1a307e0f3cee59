"""The statistics page's categorical view, on statistics made by hand: unique counts, top
values as bars, and the empty string shown as such rather than as a blank cell."""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import statistics_pb2

from pipelines.reports.statistics import EMPTY, StatsPage, render


def split(counts: dict[str, int], missing: int) -> statistics_pb2.DatasetFeatureStatistics:
    dataset = statistics_pb2.DatasetFeatureStatistics(num_examples=sum(counts.values()) + missing)
    feature = dataset.features.add()
    feature.path.step.append("country")
    feature.type = statistics_pb2.FeatureNameStatistics.STRING
    stats = feature.string_stats
    stats.common_stats.num_non_missing = sum(counts.values())
    stats.common_stats.num_missing = missing
    stats.unique = len(counts)
    for value, frequency in sorted(counts.items(), key=lambda kv: -kv[1]):
        top = stats.top_values.add()
        top.value, top.frequency = value, frequency
    return dataset


def test_categorical_features_show_unique_top_values_and_the_empty_string() -> None:
    data = StatsPage(splits={"train": split({"US": 60, "": 30, "FR": 10}, missing=5),
                             "eval": split({"US": 20, "FR": 20}, missing=0)})
    html = render(data, "Statistics", "test")
    card = html[html.index('data-name="country"'):]
    assert 'data-missing="0.047619"' in html  # 5 of 105 train examples
    assert EMPTY in card and "30 (30.0%)" in card  # the empty string's bar, train
    assert "60 (60.0%)" in card and "20 (50.0%)" in card  # US: train, eval
    # unique: 3 in train, 2 in eval
    assert '<td class="num" data-v="3">3</td>' in card
    assert '<td class="num" data-v="2">2</td>' in card
    assert card.index(">US<") < card.index(EMPTY) < card.index(">FR<")  # most frequent first
