"""A secret is written into the playbook instead of ``${ENV_VAR}`` or ``file:``.

Robot keys, bot tokens, signing secrets and webhook URLs that embed a token grant
anyone who reads the playbook the right to post into every group. Playbooks are
shared and committed; keep secrets in the environment (``"${WECOM_ROBOT_KEY}"``) or
in a file readable by the runner only (``"file:/etc/sopctl/wecom.key"``).

Bad::

    channels:
      robot: {type: wecom-robot, key: 693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa}

Good::

    channels:
      robot: {type: wecom-robot, key: "${WECOM_ROBOT_KEY}"}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP403"
SLUG = "inline-secret"
SEVERITY = "error"

_FIELDS = ("key", "token", "secret", "corp_secret")
_REF = re.compile(r"^\s*(\$\{[A-Za-z_][A-Za-z0-9_]*\}|file:.+)\s*$")
_TOKEN_URL = re.compile(
    r"hooks\.slack\.com/services/|/webhooks/\d+/[\w-]{20,}|/bot\d+:[\w-]{20,}|"
    r"[?&](key|token|access_token|secret|sign)=[\w-]{8,}|/hook/[\w-]{16,}", re.I)


def check(ctx: Context) -> Iterator[Issue]:
    for name, ch in ctx.playbook.channels.items():
        for fld in _FIELDS:
            value = getattr(ch, fld)
            if value and not _REF.match(value):
                var = f'{name.upper().replace("-", "_")}_{fld.upper()}'
                yield Issue(("channels", name, fld),
                            _("channel '{channel}': `{field}` is written inline").format(
                                channel=name, field=fld),
                            hint=_('use "${{{var}}}" or "file:/path"').format(var=var))
        url = ch.url
        if url and "${" not in url and not _REF.match(url) and _TOKEN_URL.search(url):
            yield Issue(("channels", name, "url"),
                        _("channel '{channel}': the URL embeds a token").format(channel=name),
                        hint=_('use "${WEBHOOK_URL}" for the whole URL'))
