"""Secrets for channels: only ever `${ENV_VAR}` or `file:/path`, never inline in a playbook.

Resolved values are registered so that channels can redact them from every reason,
response and URL they report (see :func:`redact`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import SopctlError

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def resolve_secret(value: str | None, env: Mapping[str, str], *, channel: str = "?",
                   field: str = "secret") -> str:
    """Return the secret that ``value`` points at.

    Raises SopctlError naming the channel, the field and the variable or file when the
    reference is missing, empty, unreadable, or when a literal secret was written inline.
    """
    where = f"channel '{channel}': `{field}`"
    if value is None or value == "":
        raise SopctlError(f"{where} is not set",
                          hint=f'set {field}: "${{ENV_VAR}}" or "file:/path/to/secret"')
    m = _ENV.match(value)
    if m:
        name = m.group(1)
        got = env.get(name)
        if not got:
            raise SopctlError(f"{where} refers to ${{{name}}}, which is not set",
                              hint=f"export {name}=... in the service's environment")
        return got.strip()
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        try:
            got = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SopctlError(f"{where}: cannot read {path}: {e.strerror}") from None
        if not got:
            raise SopctlError(f"{where}: {path} is empty")
        return got
    raise SopctlError(f"{where} must be \"${{ENV_VAR}}\" or \"file:/path\", not an inline value",
                      hint="secrets in playbooks end up in version control and logs")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and its URL-encoded form) in ``text`` by ``***``."""
    from urllib.parse import quote

    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
            q = quote(s, safe="")
            if q != s:
                text = text.replace(q, "***")
    return text
