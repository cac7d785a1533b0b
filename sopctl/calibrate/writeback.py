"""Put fitted values into the playbook's ``simulation:`` block, leaving the rest of the file
(comments, order, quoting) as the operator wrote it."""

from __future__ import annotations

import re

from ..i18n import _
from .fit import FitResult

_TOP = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:", re.M)


def block(result: FitResult, source: str) -> str:
    """The ``simulation:`` block: every identified value, with its uncertainty and the
    value it replaces as a comment."""
    lines = ["simulation:",
             "  # " + _("fitted by `sopctl calibrate` on {source}").format(source=source)]
    for e in result.estimates:
        if e.se is None:
            continue
        lines.append(f"  {e.name}: {result.params[e.name]:g}  # ± {e.se:.2g}; "
                     + _("default {value:g}").format(value=e.default))
    return "\n".join(lines) + "\n"


def merge(text: str, new_block: str) -> str:
    """``text`` with its top-level ``simulation:`` block replaced by ``new_block`` (kept
    values that were not refitted stay), or ``new_block`` appended."""
    tops = list(_TOP.finditer(text))
    for i, m in enumerate(tops):
        if m.group("key") != "simulation":
            continue
        end = tops[i + 1].start() if i + 1 < len(tops) else len(text)
        old = text[m.start():end]
        fitted = {ln.split(":", 1)[0].strip() for ln in new_block.splitlines()[1:]
                  if ":" in ln and not ln.strip().startswith("#")}
        kept = [ln for ln in old.splitlines()[1:] if ln.strip() and
                not ln.strip().startswith("#") and ln.split(":", 1)[0].strip() not in fitted]
        body = new_block.rstrip("\n").split("\n")
        merged = "\n".join([*body, *kept]) + "\n"
        tail = text[end:]
        return text[:m.start()] + merged + ("\n" if tail else "") + tail
    sep = "" if text.endswith("\n") or not text else "\n"
    return text + sep + "\n" + new_block
