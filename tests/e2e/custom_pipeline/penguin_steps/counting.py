"""Counting helpers the summary step imports: editing this file must re-run that step."""

from __future__ import annotations

from collections import Counter


def shares(labels: list[int]) -> dict[str, float]:
    """Each label's share of the examples, keyed by the label as text (JSON keys)."""
    counts = Counter(labels)
    total = sum(counts.values()) or 1
    return {str(label): count / total for label, count in sorted(counts.items())}
