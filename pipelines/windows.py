"""Span windows: which spans a node that trains or evaluates on "the last N days" reads.

A span reader (ExampleGen) ingests one span per execution, so each span is its own Examples
artifact with its own statistics, and a span already ingested from the same files is a cache
hit, never read again. A window is then only a choice of those artifacts: a ``span_window``
input (Transform's and the Evaluator's examples) gets the newest artifact of every span in the
window, oldest span first, from ML Metadata. The runner ingests the window's older spans first
when they were never ingested here (or their files changed), so a cold start and a daily run
read the same window.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from pipelines.component import Params
from pipelines.errors import LockgateError


class SpanWindow(Params):
    """``spans: {latest: 7}`` or ``spans: {range: [A, B]}``, with ``min_spans``."""

    latest: int | None = Field(None, ge=1, description="The newest N spans, up to the span "
                               "this run reads (the newest, or the one pinned by --span/--date).")
    range: tuple[int, int] | None = Field(None, description="Every span from A to B that exists.")
    min_spans: int = Field(1, ge=1, description="Fewer spans in the window than this skip "
                           "the nodes that read the window (and what depends on them), visibly.")

    @model_validator(mode="after")
    def _one_kind(self) -> SpanWindow:
        if (self.latest is None) == (self.range is None):
            raise ValueError("give exactly one of latest: N or range: [A, B]")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"range [{self.range[0]}, {self.range[1]}] ends before it starts")
        return self


class WindowTooShort(LockgateError):
    """A window holds fewer spans than its ``min_spans``: the node is skipped, not failed."""


def window_spans(window: SpanWindow | None, available: list[int], current: int) -> list[int]:
    """The spans of the window ending at ``current``, oldest first: ``[current]`` without one."""
    if window is None:
        return [current]
    upto = sorted(s for s in available if s <= current)
    if window.latest is not None:
        return upto[-window.latest:]
    assert window.range is not None
    first, last = window.range
    return [s for s in upto if first <= s <= last]


def current_span(window: SpanWindow | None, available: list[int]) -> int | None:
    """The span a run reads when none is pinned: the newest, or the newest in a range."""
    if window is not None and window.range is not None:
        available = [s for s in available if window.range[0] <= s <= window.range[1]]
    return max(available, default=None)
