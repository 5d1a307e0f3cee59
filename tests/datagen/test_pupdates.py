"""The Pooch Predictor data generator: determinism, shape, realism, and its injected faults.

The files are read back with pyarrow the way ExampleGen should read them (an empty cell is
missing; a quoted "" is a post without hashtags), and checked against the curated schema with
real TFDV.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from pipelines import cli
from pipelines.datagen import pupdates
from pipelines.datagen.pupdates import COLUMNS, NULLABLE_COLUMNS, DatagenError, generate
from tests.helpers import REPO

SCHEMA = REPO / "schemas" / "pupdates" / "schema.pbtxt"
ROWS = 20_000


def make(tmp_path: Path, name: str = "data", *, rows: int = ROWS, spans: int = 1, seed: int = 0,
         drift: str = "none", missing: float = 0.0, bad: float = 0.0) -> list[Path]:
    return generate(tmp_path / name, rows=rows, spans=spans, seed=seed, drift=drift,
                    missing_fraction=missing, bad_row_fraction=bad)


def read_posts(path: Path) -> pa.Table:
    """A clean posts CSV, typed: empty cells are nulls, a quoted "" is an empty string."""
    options = pacsv.ConvertOptions(
        column_types={"hashtags": pa.string(), "breed": pa.string(), "country": pa.string(),
                      **{c: pa.int64() for c in ("post_id", "follower_count", "hour",
                                                 "has_filter", "likes")}},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return pacsv.read_csv(path, convert_options=options)


def to_record_batch(table: pa.Table) -> pa.RecordBatch:
    """One list per cell, as tf.Examples decode: a missing cell is a null list."""
    columns = []
    for column in table.columns:
        column = column.combine_chunks()
        if pa.types.is_string(column.type):  # tf.Example bytes features
            column = column.cast(pa.binary())
        valid = np.asarray(column.is_valid())
        offsets = np.zeros(len(valid) + 1, np.int32)
        np.cumsum(valid, out=offsets[1:])
        columns.append(pa.ListArray.from_arrays(
            pa.array(offsets), column.drop_null(), mask=pa.array(~valid)
        ))
    return pa.RecordBatch.from_arrays(columns, table.column_names)


def shares(column: pa.ChunkedArray) -> dict[str, float]:
    values = [v for v in column.to_pylist() if v is not None]
    names, counts = np.unique(values, return_counts=True)
    return dict(zip(names.tolist(), (counts / counts.sum()).tolist(), strict=True))


def linf(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in {*a, *b})


def digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    options = {"rows": 3000, "spans": 2, "missing": 0.02, "bad": 0.01, "drift": "breed"}
    first = make(tmp_path, "a", seed=7, **options)  # type: ignore[arg-type]
    again = make(tmp_path, "b", seed=7, **options)  # type: ignore[arg-type]
    other = make(tmp_path, "c", seed=8, **options)  # type: ignore[arg-type]
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        Path("span-1/posts.csv"), Path("span-2/posts.csv")
    ]
    assert digest(first) == digest(again)
    assert all(x != y for x, y in zip(digest(first), digest(other), strict=True))


def test_spans_have_the_columns_and_row_counts_asked_for(tmp_path: Path) -> None:
    files = make(tmp_path, rows=1234, spans=3)
    ids = []
    for path in files:
        table = read_posts(path)
        assert table.column_names == list(COLUMNS)
        assert table.num_rows == 1234
        assert table.schema.field("likes").type == pa.int64()
        ids += table["post_id"].to_pylist()
    assert len(set(ids)) == len(ids) == 3 * 1234  # post ids are unique across spans


def test_chunks_join_into_one_file_with_one_header(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clean_whole = read_posts(make(tmp_path, "whole", rows=2500)[0])
    monkeypatch.setattr(pupdates, "CHUNK_ROWS", 700)  # 4 chunks, the last one short
    (path,) = make(tmp_path, "chunked", rows=2500, bad=0.02)
    lines = path.read_text().splitlines()
    assert len(lines) == 2501
    assert sum(line.startswith('"post_id"') for line in lines) == 1
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 2501))
    clean = read_posts(make(tmp_path, "chunked-clean", rows=2500)[0])
    assert clean["post_id"].to_pylist() == clean_whole["post_id"].to_pylist()
    assert clean["likes"].to_pylist() != clean_whole["likes"].to_pylist()  # chunks reseed


def test_the_data_is_skewed_like_social_media(tmp_path: Path) -> None:
    posts = read_posts(make(tmp_path)[0])
    countries = shares(posts["country"])
    assert len(countries) == 15
    assert 0.43 < countries["US"] < 0.47
    assert max(v for k, v in countries.items() if k != "US") < 0.12
    breeds = shares(posts["breed"])
    assert len(breeds) == 30
    assert max(breeds.values()) > 10 * min(breeds.values())

    likes = posts["likes"].to_numpy()
    followers = posts["follower_count"].to_numpy()
    assert likes.min() >= 0
    assert np.percentile(likes, 99) > 20 * np.median(likes)  # a heavy right tail
    assert likes.mean() > 2 * np.median(likes)
    assert followers.max() > 100 * np.median(followers)
    hours = posts["hour"].to_numpy()
    assert set(np.unique(hours)) == set(range(24))
    assert (hours == 20).mean() > 3 * (hours == 4).mean()  # evenings, not nights
    assert 0.3 < posts["has_filter"].to_numpy().mean() < 0.4

    # likes follow followers, and evening posts do better than morning ones
    rank = np.argsort(np.argsort(followers)), np.argsort(np.argsort(likes))
    assert np.corrcoef(*rank)[0, 1] > 0.7
    assert np.median(likes[hours == 20]) > 1.3 * np.median(likes[hours == 8])


def test_hashtags_are_zipf_distributed_lists_of_zero_to_six_tags(tmp_path: Path) -> None:
    posts = read_posts(make(tmp_path)[0])
    vocabulary = set(pupdates.hashtag_vocabulary())
    assert 200 <= len(vocabulary) <= 500
    tag_lists = [text.split() for text in posts["hashtags"].to_pylist()]
    counts = np.array([len(tags) for tags in tag_lists])
    assert counts.min() == 0 and counts.max() == 6
    assert all(len(set(tags)) == len(tags) for tags in tag_lists)  # no tag twice in a post
    used = [tag for tags in tag_lists for tag in tags]
    assert set(used) <= vocabulary and all(tag.startswith("#") for tag in used)
    frequency = np.sort(np.unique(used, return_counts=True)[1])[::-1]
    assert frequency[0] > 10 * frequency[49] > 0  # the head is far above the long tail
    assert len(frequency) > 200


@pytest.mark.parametrize(("drift", "column"), [("breed", "breed"), ("country", "country")])
def test_drift_shifts_the_later_spans(tmp_path: Path, drift: str, column: str) -> None:
    drifted = [read_posts(p) for p in make(tmp_path, rows=5000, spans=3, drift=drift)]
    other = "country" if column == "breed" else "breed"
    trending = pupdates.TRENDING[drift]
    trend = [shares(t[column])[trending] for t in drifted]
    assert trend[0] < 0.05 and trend[1] > trend[0] + 0.15 and trend[2] > trend[1] + 0.15
    assert linf(shares(drifted[0][column]), shares(drifted[1][column])) > 0.15
    assert linf(shares(drifted[0][other]), shares(drifted[1][other])) < 0.05

    steady = [read_posts(p) for p in make(tmp_path, "steady", rows=5000, spans=2)]
    assert linf(shares(steady[0][column]), shares(steady[1][column])) < 0.05


def test_missing_cells_appear_at_the_requested_fraction(tmp_path: Path) -> None:
    posts = read_posts(make(tmp_path, missing=0.05)[0])
    for name in NULLABLE_COLUMNS:
        assert posts[name].null_count / posts.num_rows == pytest.approx(0.05, abs=0.01), name
    assert posts["post_id"].null_count == posts["likes"].null_count == 0
    # Missing cells are empty, not "" (a post without hashtags)
    assert "" in posts["hashtags"].to_pylist()

    # Emptying cells changes nothing else
    clean = read_posts(make(tmp_path, "clean")[0])
    for name in COLUMNS:
        kept = posts[name].is_valid()
        assert posts[name].filter(kept).equals(clean[name].filter(kept)), name


def test_bad_rows_appear_at_the_requested_fraction(tmp_path: Path) -> None:
    (path,) = make(tmp_path, bad=0.02)
    lines = path.read_bytes().splitlines()[1:]
    assert len(lines) == ROWS
    fields = [line.split(b",") for line in lines]
    short = sum(len(f) < len(COLUMNS) for f in fields)
    long = sum(len(f) > len(COLUMNS) for f in fields)
    at = COLUMNS.index("follower_count")
    text = sum(len(f) == len(COLUMNS) and not f[at].isdigit() for f in fields)
    assert (short + long + text) / ROWS == pytest.approx(0.02, abs=0.004)
    assert min(short, long, text) > 0.2 * (short + long + text)

    # Every other row is intact and equal to the clean data
    clean = path.parent.parent.parent / "clean"
    clean_lines = make(clean, rows=ROWS)[0].read_bytes().splitlines()[1:]
    damaged = sum(a != b for a, b in zip(lines, clean_lines, strict=True))
    assert damaged == short + long + text


def test_invalid_options_are_refused_with_the_option_named(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    with pytest.raises(DatagenError, match=r"--rows must be at least 1.*--missing-fraction"):
        make(tmp_path, rows=0, missing=1.5)
    with pytest.raises(DatagenError, match="--drift must be one of none, breed, country"):
        make(tmp_path, drift="poodle")
    assert not (tmp_path / "data").exists()

    code = cli.main(["datagen", "pupdates", "--out", str(tmp_path / "cli"), "--spans", "0"])
    assert code == cli.EXIT_FAILED
    assert "--spans must be at least 1" in capsys.readouterr().err


def test_cli_writes_the_spans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = cli.main(["datagen", "pupdates", "--out", str(out), "--rows", "500", "--spans", "2",
                     "--seed", "3", "--drift", "country", "--missing-fraction", "0.01"])
    assert code == 0
    assert capsys.readouterr().out.split() == [
        "wrote", str(out / "span-1" / "posts.csv"), "wrote", str(out / "span-2" / "posts.csv")
    ]
    assert read_posts(out / "span-2" / "posts.csv").num_rows == 500


def test_the_curated_schema_accepts_the_data_and_catches_drift(tmp_path: Path) -> None:
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_data_validation.statistics.stats_impl import generate_statistics_in_memory
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(SCHEMA.read_text(), schema_pb2.Schema())
    files = make(tmp_path, rows=5000, spans=2, drift="country", missing=0.02)
    stats = [generate_statistics_in_memory(to_record_batch(read_posts(p))) for p in files]

    anomalies = tfdv.validate_statistics(stats[0], schema)
    assert dict(anomalies.anomaly_info) == {}

    for name in ("breed", "country"):
        tfdv.get_feature(schema, name).drift_comparator.infinity_norm.threshold = 0.1
    anomalies = tfdv.validate_statistics(stats[1], schema, previous_statistics=stats[0])
    assert set(anomalies.anomaly_info) == {"country"}

    # Too many empty cells, and a breed outside the domain, are anomalies too.
    posts = read_posts(make(tmp_path, "broken", rows=2000, missing=0.2)[0])
    breed = posts["breed"].to_pylist()
    breed[0] = "Labradoodle"
    posts = posts.set_column(COLUMNS.index("breed"), "breed", pa.array(breed))
    stats_broken = generate_statistics_in_memory(to_record_batch(posts))
    found = tfdv.validate_statistics(stats_broken, text_format.Parse(SCHEMA.read_text(),
                                                                     schema_pb2.Schema()))
    reasons = {name: {r.type for r in info.reason} for name, info in found.anomaly_info.items()}
    assert set(reasons) == set(NULLABLE_COLUMNS) - {"hashtags"}
    low_presence = anomalies_pb2_type("FEATURE_TYPE_LOW_FRACTION_PRESENT")
    assert all(low_presence in r for r in reasons.values())
    assert anomalies_pb2_type("ENUM_TYPE_UNEXPECTED_STRING_VALUES") in reasons["breed"]


def anomalies_pb2_type(name: str) -> int:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    return int(anomalies_pb2.AnomalyInfo.Type.Value(name))


def test_dated_spans_are_days_holding_the_same_posts(tmp_path: Path) -> None:
    """`--start-date D --days N`: day=D/ .. day=D+N-1/, each with the posts of span 1..N, which
    an input `day={YYYY}-{MM}-{DD}/posts.csv` reads as the spans of those days."""
    from components.example_gen import ExampleGenParams
    from components.example_gen.spans import available_spans
    from pipelines.sdk import span_of_date

    numbered = make(tmp_path, "numbered", rows=500, spans=3)
    assert cli.main(["datagen", "pupdates", "--rows", "500", "--start-date", "2026-02-27",
                     "--days", "3", "--out", str(tmp_path / "dated")]) == 0
    days = ["2026-02-27", "2026-02-28", "2026-03-01"]
    dated = [tmp_path / "dated" / f"day={day}" / "posts.csv" for day in days]
    assert digest(dated) == digest(numbered)
    params = ExampleGenParams(input="dated/day={YYYY}-{MM}-{DD}/posts.csv")
    assert available_spans(params, tmp_path) == [
        span_of_date(date.fromisoformat(day)) for day in days]
