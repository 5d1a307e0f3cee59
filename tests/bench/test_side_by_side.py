"""Pooling the alternated runs of bench/side_by_side.py into one figure."""

from __future__ import annotations

from bench.measure import summary
from bench.side_by_side import merge, pooled_penguin, with_throughput


def one_run(wall: float, rss: float, evaluator: float, blessed: bool) -> dict[str, object]:
    return {
        "wall_s": summary([wall]),
        "peak_rss_mb": summary([rss], digits=1),
        "components": {"evaluator": summary([evaluator]), "trainer": summary([1.0])},
        "rows_per_s": {"evaluator": 1},
        "blessed": [blessed],
        "rows": 1000,
    }


def test_runs_are_pooled_and_summarised_again() -> None:
    pooled = merge([one_run(10.0, 500.04, 4.0, True), one_run(30.0, 700.0, 2.0, True),
                    one_run(20.0, 600.0, 5.0, False)])
    assert pooled["wall_s"] == {"median": 20.0, "min": 10.0, "max": 30.0,
                                "runs": [10.0, 30.0, 20.0]}
    assert pooled["peak_rss_mb"]["runs"] == [500.0, 700.0, 600.0]
    assert pooled["components"]["evaluator"]["median"] == 4.0
    assert pooled["blessed"] == [True, True, False]
    assert pooled["rows"] == 1000


def test_throughput_comes_from_the_pooled_median() -> None:
    pooled = with_throughput(merge([one_run(1.0, 1.0, 4.0, True), one_run(1.0, 1.0, 2.0, True),
                                    one_run(1.0, 1.0, 5.0, True)]), rows=1000)
    assert pooled["rows_per_s"] == {"evaluator": 250}  # 1000 rows / the 4.0 s median


def penguin_repeat(cold: float, cached: float, startup: float) -> dict[str, object]:
    run = {"wall_s": summary([cold]), "components": {}}
    return {"penguin_cold": run, "penguin_second": run,
            "penguin_cached": {"wall_s": summary([cached]), "components": {}},
            "cli_startup_s": summary([startup]), "cached_fraction_of_cold": 0.99}


def test_penguin_s_cached_share_comes_from_the_pooled_medians() -> None:
    pooled = pooled_penguin([penguin_repeat(12.0, 0.6, 0.1), penguin_repeat(10.0, 0.5, 0.1),
                             penguin_repeat(14.0, 0.9, 0.2)])
    assert pooled["penguin_cold"]["wall_s"]["runs"] == [12.0, 10.0, 14.0]
    # (0.6 - 0.1) / (12.0 - 0.1): the medians of the three repeats, not the first repeat's 0.99
    assert pooled["cached_fraction_of_cold"] == round(0.5 / 11.9, 4)
