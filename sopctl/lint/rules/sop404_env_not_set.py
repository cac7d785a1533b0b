"""A channel needs an environment variable that is not set.

Secrets written as ``"${NAME}"`` are read from the environment when the runner
starts; one that is missing there fails every post through that channel. Lint warns
(the playbook may be checked on a machine without the secrets; ``--no-env`` skips
this rule); ``sopctl run`` refuses to start.

Bad::

    channels:
      robot: {type: wecom-robot, key: "${WECOM_ROBOT_KEY_TYPO}"}

Good::

    channels:
      robot: {type: wecom-robot, key: "${WECOM_ROBOT_KEY}"}   # exported on the host
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP404"
SLUG = "env-not-set"
SEVERITY = "warning"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIELDS = ("base_url", "url", "key", "token", "secret", "corp_id", "corp_secret", "sender",
           "chat_id", "path")


def check(ctx: Context) -> Iterator[Issue]:
    env = ctx.env
    if not env:  # --no-env: the environment is not the runner's
        return
    for name, ch in ctx.playbook.channels.items():
        for fld in _FIELDS:
            value = getattr(ch, fld)
            if not value or "${" not in value:
                continue
            for var in _VAR.findall(value):
                if var not in env:
                    yield Issue(("channels", name, fld),
                                _("channel '{channel}' needs ${{{var}}}, which is not "
                                  "set").format(channel=name, var=var),
                                hint=_("export {var}=... where sopctl runs").format(var=var))
