"""A blessing's verdict, threshold by threshold, from blessing.json and summary.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.lineage.blessing import read_verdict


def write(tmp_path: Path, blessing: dict[str, Any], overall: dict[str, Any]) -> tuple[str, str]:
    (tmp_path / "b").mkdir()
    (tmp_path / "e").mkdir()
    (tmp_path / "b" / "blessing.json").write_text(json.dumps(blessing))
    (tmp_path / "e" / "summary.json").write_text(json.dumps({"slices": {"overall": overall}}))
    return str(tmp_path / "b"), str(tmp_path / "e")


THRESHOLDS = [{"metric": "SparseCategoricalAccuracy", "lower": 0.6, "upper": 0.999,
               "change": {"direction": "higher_is_better", "absolute": -0.01}}]


def test_a_refusal_lists_every_failed_threshold(tmp_path: Path) -> None:
    failures = [
        {"kind": "lower", "metric": "sparse_categorical_accuracy", "slice": "overall",
         "message": "sparse_categorical_accuracy 0.5 < lower bound 0.6 (overall)"},
        {"kind": "change", "metric": "sparse_categorical_accuracy", "slice": "overall",
         "message": "sparse_categorical_accuracy 0.5 vs baseline 0.9: change -0.4 < allowed"},
    ]
    verdict = read_verdict(*write(tmp_path, {
        "blessed": False, "model_id": 9, "baseline_model_id": 4, "failures": failures,
        "thresholds": THRESHOLDS, "message": "not blessed: ..."},
        {"sparse_categorical_accuracy": {"value": 0.5, "baseline": 0.9, "change": -0.4}}))
    assert verdict is not None and not verdict.blessed
    assert [(c.kind, c.passed) for c in verdict.checks] == [
        ("lower", False), ("upper", True), ("change", False)]
    assert verdict.line() == ("not blessed: sparse_categorical_accuracy 0.5 < lower bound 0.6 "
                              "(overall); sparse_categorical_accuracy 0.5 vs baseline 0.9: "
                              "change -0.4 < allowed")


def test_a_first_model_has_no_change_check(tmp_path: Path) -> None:
    verdict = read_verdict(*write(tmp_path, {
        "blessed": True, "model_id": 3, "baseline_model_id": None, "failures": [],
        "thresholds": THRESHOLDS},
        {"output/sparse_categorical_accuracy": {"value": 0.98}}))
    assert verdict is not None
    assert [(c.metric, c.kind, c.passed) for c in verdict.checks] == [
        ("output/sparse_categorical_accuracy", "lower", True),
        ("output/sparse_categorical_accuracy", "upper", True),
        ("output/sparse_categorical_accuracy", "change", None)]
    assert verdict.line() == ("blessed: output/sparse_categorical_accuracy 0.98 >= 0.6; "
                              "output/sparse_categorical_accuracy 0.98 <= 0.999")


def test_no_blessing_file_is_no_verdict(tmp_path: Path) -> None:
    assert read_verdict(str(tmp_path)) is None
