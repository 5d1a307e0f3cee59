"""The lines bench/report.py writes into bench/RESULTS.md from the figures."""

from __future__ import annotations

from bench.measure import summary
from bench.report import penguin_round_two


def cold(seconds: float) -> dict[str, object]:
    return {"wall_s": summary([seconds])}


def test_the_penguin_goal_is_judged_on_the_ratio_of_the_medians() -> None:
    assert penguin_round_two(cold(12.0), cold(50.0)) == [
        "- Whole process: **0.24×** TFX (performance round 2's goal ≤ 0.25×: **met**)", ""]
    assert "**not met**" in penguin_round_two(cold(13.0), cold(50.0))[0]


def test_no_tfx_figure_no_penguin_goal_line() -> None:
    assert penguin_round_two(cold(12.0), None) == []
