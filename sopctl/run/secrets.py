"""Secrets for channels: only ever `${ENV_VAR}` or `file:/path`, never inline in a playbook.

Resolved values are registered so that channels can redact them from every reason,
response and URL they report (see :func:`redact`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import SopctlError
from ..i18n import _

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def resolve_secret(value: str | None, env: Mapping[str, str], *, channel: str = "?",
                   field: str = "secret") -> str:
    """Return the secret that ``value`` points at.

    Raises SopctlError naming the channel, the field and the variable or file when the
    reference is missing, empty, unreadable, or when a literal secret was written inline.
    """
    where = _("channel '{channel}': `{field}`").format(channel=channel, field=field)
    if value is None or value == "":
        raise SopctlError(_("{where} is not set").format(where=where),
                          hint=_('set {field}: "${{ENV_VAR}}" or "file:/path/to/secret"')
                          .format(field=field))
    m = _ENV.match(value)
    if m:
        name = m.group(1)
        got = env.get(name)
        if not got:
            raise SopctlError(_("{where} refers to ${{{name}}}, which is not set").format(
                where=where, name=name),
                hint=_("export {name}=... in the service's environment").format(name=name))
        return got.strip()
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        try:
            got = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            from ..i18n.thirdparty import os_reason

            raise SopctlError(_("{where}: cannot read {path}: {why}").format(
                where=where, path=path, why=os_reason(e))) from None
        if not got:
            raise SopctlError(_("{where}: {path} is empty").format(where=where, path=path))
        return got
    raise SopctlError(_('{where} must be "${{ENV_VAR}}" or "file:/path", not an inline value')
                      .format(where=where),
                      hint=_("secrets in playbooks end up in version control and logs"))


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
