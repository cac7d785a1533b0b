"""What a rule sees: the validated playbook, where its parts stand, and the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from ..findings import Finding
from ..playbook.source import SourceMap

if TYPE_CHECKING:
    from ..playbook.loader import Loaded
    from ..playbook.model import Playbook


@dataclass(slots=True)
class Issue:
    """What a rule yields: a location path in the playbook and a message.

    ``key=True`` points at the key rather than its value (e.g. for a whole section).
    A ``loc`` under ``groups`` is located in the inventory file when the groups live in
    one (see ``Context.where``).
    """

    loc: tuple[str | int, ...]
    message: str
    key: bool = False
    hint: str | None = None
    # (value, start, end): the finding is about value[start:end] of the string at ``loc``
    # (a template's placeholder), located to its own line and column
    span: tuple[str, int, int] | None = None


@dataclass
class Context:
    loaded: Loaded
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def playbook(self) -> Playbook:
        assert self.loaded.playbook is not None
        return self.loaded.playbook

    @property
    def source(self) -> SourceMap:
        assert self.loaded.source is not None
        return self.loaded.source

    @property
    def path(self) -> str:
        return self.loaded.path

    @cached_property
    def groups(self) -> list:
        pb = self.playbook
        return pb.groups if isinstance(pb.groups, list) else []

    def where(self, loc: tuple[str | int, ...], key: bool = False) -> tuple[str, int, int]:
        """(path, line, column) of a playbook location, following groups into their file."""
        if loc and loc[0] == "groups" and self.loaded.groups_source is not None:
            m = self.loaded.groups_source.locate(loc, key=key)
            return self.loaded.groups_source.path, m.line, m.column
        m = self.source.locate(loc, key=key)
        return self.path, m.line, m.column

    def make(self, rule_code: str, slug: str, severity: str, issue: Issue) -> Finding:
        in_groups_file = issue.loc[:1] == ("groups",) and self.loaded.groups_source is not None
        if issue.span is not None and not in_groups_file:
            m = self.source.locate_in(issue.loc, *issue.span)
            path, line, col = self.path, m.line, m.column
        else:
            path, line, col = self.where(issue.loc, issue.key)
        # a rule has one severity: what `sopctl rules` lists is what lint reports
        return Finding(path, line, col, rule_code, severity,  # type: ignore[arg-type]
                       issue.message, slug, issue.hint)
