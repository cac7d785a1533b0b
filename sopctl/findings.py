"""A finding: one located problem in one file. Shared by the loader, lint and run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    path: str
    line: int
    column: int
    code: str
    severity: Severity = field(compare=False)
    message: str = field(compare=False)
    slug: str = field(default="", compare=False)
    hint: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        if d["hint"] is None:
            del d["hint"]
        return d

    def short(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"
