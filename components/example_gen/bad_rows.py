"""Malformed input rows: quarantined to a side file when few enough, otherwise a DataError."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipelines.sdk import DataError

QUARANTINE_FILE = Path("quarantine") / "bad_rows.csv"  # inside the Examples artifact
SAMPLE = 5  # rows quoted in an error message
_TEXT_LIMIT = 200


@dataclass(frozen=True)
class BadRow:
    file: str
    line: int | None  # 1-based line in the file; None when it cannot be told exactly
    reason: str
    text: str  # the raw line
    columns: tuple[str, ...] = ()  # columns whose cell is not a number; () for a field count

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = self.text if len(self.text) <= _TEXT_LIMIT else self.text[:_TEXT_LIMIT] + "..."
        return f"{where}: {self.reason}: {text}" if text else f"{where}: {self.reason}"


def check(bad: list[BadRow], rows: int, max_fraction: float) -> None:
    """Raise a DataError when the malformed rows exceed ``max_fraction`` of ``rows``."""
    if not bad or len(bad) <= max_fraction * rows:
        return
    files = sorted({b.file for b in bad})
    where = files[0] if len(files) == 1 else f"{len(files)} files ({', '.join(files[:3])}...)"
    raise DataError(
        f"ExampleGen: {len(bad):,} of {rows:,} rows ({len(bad) / rows:.2%}) of {where} are "
        f"malformed, more than max_bad_row_fraction={max_fraction:g} allows: {summary(bad)}. "
        f"Fix the data, or raise max_bad_row_fraction in ExampleGen's params to quarantine "
        f"such rows to a side file. Malformed rows:",
        count=len(bad),
        examples=[str(b) for b in bad[:SAMPLE]],
    )


def summary(bad: list[BadRow]) -> str:
    """What is wrong, grouped, e.g. "column 'follower_count' has values that are not numbers
    (3 rows); wrong number of fields (2 rows)"."""
    counts: Counter[str] = Counter()
    for row in bad:
        for name in row.columns:
            counts[f"column {name!r} has values that are not numbers"] += 1
        if not row.columns:
            counts["wrong number of fields"] += 1
    return "; ".join(f"{what} ({n:,} row{'s' if n > 1 else ''})"
                     for what, n in counts.most_common())


def write_quarantine(out_dir: Path, bad: list[BadRow]) -> Path:
    """Write the rows, with file, line and reason, to ``<out_dir>/quarantine/bad_rows.csv``."""
    path = out_dir / QUARANTINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "reason", "row"])
        for row in bad:
            writer.writerow([row.file, row.line or "", row.reason, row.text])
    return path
