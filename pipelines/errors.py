"""The framework's errors. Every failure a user can cause is one of these, with a message that
says what went wrong and what to do; a bare traceback is never the only explanation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LockgateError(Exception):
    """Base class for every error Lockgate raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file, located as precisely as the YAML allows."""

    file: str
    line: int | None
    key: str
    message: str
    # Reported but not fatal: data the config names is not there yet (see ``Finding``).
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        kind = "warning: " if self.warning else ""
        return f"{where}: {self.key or '<root>'}: {kind}{self.message}"


class ConfigError(LockgateError):
    """A config file is invalid. Carries every issue found, not just the first."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class DataError(LockgateError):
    """The input data is unusable: bad rows, a missing column, anomalies at ERROR severity.

    ``examples`` is a bounded sample of offending rows or features so the message stays short.
    """

    def __init__(self, message: str, *, count: int = 0, examples: Sequence[str] = ()) -> None:
        self.count = count
        self.examples = list(examples)
        text = message
        if self.examples:
            text += "\n" + "\n".join(f"  {e}" for e in self.examples)
            if count > len(self.examples):
                text += f"\n  ... and {count - len(self.examples)} more"
        super().__init__(text)


class UserCodeError(LockgateError):
    """The pipeline author's code (preprocessing_fn, run_fn, ...) raised an exception."""

    def __init__(self, node: str, module: str, cause: BaseException) -> None:
        self.node = node
        self.module = module
        self.cause = cause
        super().__init__(
            f"user code in {module} failed in node '{node}': {type(cause).__name__}: {cause}"
        )


class MetadataError(LockgateError):
    """ML Metadata is unreachable or holds something the launcher cannot use."""
