"""What a failed execution leaves behind for its author: the whole traceback, and their frame.

The console and MLMD get a summary; the full story, with every chained exception, goes to a
log file in the execution's own folder. The "author's frame" is the deepest frame of the
traceback that is neither the framework's, a standard component's, nor an installed
library's: the line of the author's code that raised, or that called what raised.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path

ERROR_LOG = "error.log"
_REPO_PACKAGES = tuple(
    str(Path(__file__).resolve().parents[1] / package) for package in ("pipelines", "components")
)
_INSTALLED = tuple({str(Path(sysconfig.get_paths()[key]).resolve())
                    for key in ("stdlib", "platstdlib", "purelib", "platlib")})


def write_error_log(directory: Path, exc: BaseException) -> Path:
    """Write ``exc``'s whole traceback (causes included) under ``directory``; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ERROR_LOG
    path.write_text("".join(traceback.format_exception(exc)))
    return path


def author_frame(exc: BaseException) -> str | None:
    """``file:line in function: source`` of the deepest frame in the author's code, if any."""
    best: traceback.FrameSummary | None = None
    for link in _chain(exc):
        for frame in traceback.extract_tb(link.__traceback__):
            if _is_authors(frame.filename):
                best = frame
        if isinstance(link, SyntaxError) and link.filename and _is_authors(link.filename):
            return f"{link.filename}:{link.lineno}: {(link.text or '').strip()}"
    if best is None:
        return None
    return f"{best.filename}:{best.lineno} in {best.name}: {(best.line or '').strip()}"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, outermost first; the author's frames are usually in a cause."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_authors(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    path = str(Path(filename).resolve())
    return not path.startswith(_REPO_PACKAGES) and not path.startswith(_INSTALLED)
