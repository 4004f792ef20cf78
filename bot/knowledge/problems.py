"""What `kb check` reports: one `Problem` per finding, pointing at a file and line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"  # fails `kb check` (non-zero exit)
    WARNING = "warning"  # worth fixing, does not fail the check


@dataclass(frozen=True, order=True)
class Problem:
    path: Path
    line: int  # 1-based; 0 when the problem is about the whole file
    severity: Severity
    code: str  # stable short name, e.g. "policy-contradiction"
    message: str

    def format(self, root: Path | None = None) -> str:
        shown = self.path
        if root is not None:
            with contextlib.suppress(ValueError):  # outside root: show it in full
                shown = self.path.relative_to(root)
        where = f"{shown}:{self.line}" if self.line else f"{shown}"
        return f"{where}: {self.severity} [{self.code}] {self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]
