"""Channel plugins, one module per platform, created by :func:`make_channel`.

Modules are imported only when a playbook uses their type.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...i18n import _
from .base import Channel, OutMessage, SendResult

if TYPE_CHECKING:
    import httpx

    from ...playbook.model import Channel as ChannelCfg
    from ..delivery import DeliveryContext

__all__ = ["MODULES", "Channel", "OutMessage", "SendResult", "make_channel", "make_channels"]

MODULES = {
    "console": "console",
    "file": "file",
    "webhook": "webhook",
    "wecom-robot": "wecom_robot",
    "wecom-customer-group": "wecom_customer_group",
    "feishu": "feishu",
    "dingtalk": "dingtalk",
    "slack": "slack",
    "discord": "discord",
    "telegram": "telegram",
}


def make_channel(name: str, cfg: ChannelCfg, *, env: Mapping[str, str],
                 client: httpx.AsyncClient | None, state_dir: Path,
                 ctx: DeliveryContext | None = None,
                 channels: Mapping[str, Channel] | None = None) -> Channel:
    """Build the channel ``name``. Raises SopctlError for an unknown type or a missing secret.

    ``ctx`` carries the clock, rate limiter and retry policy (shared by all channels of a
    run); ``channels`` holds already-built channels so that ``mode: remind`` and
    ``remind: <name>`` can be wired (else reminders go to the console).
    """
    from ...errors import SopctlError

    mod_name = MODULES.get(cfg.type)
    if mod_name is None:
        raise SopctlError(_("channel '{name}': unknown type '{type}'").format(
            name=name, type=cfg.type), hint=_("one of: {choices}").format(
            choices=", ".join(MODULES)))
    from .remind import RemindChannel

    mod = importlib.import_module(f"{__name__}.{mod_name}")
    ch = mod.CHANNEL(name, cfg, env=env, client=client, state_dir=state_dir, ctx=ctx)
    if cfg.remind:
        target = (channels or {}).get(cfg.remind)
        if target is None:
            raise SopctlError(_("channel '{name}': remind channel '{remind}' is not defined")
                              .format(name=name, remind=cfg.remind))
    else:  # reminders go to the console
        from ...playbook.model import Channel as ChannelModel
        from .console import ConsoleChannel

        target = ConsoleChannel(f"{name}:remind", ChannelModel(type="console"), env={},
                                client=None, state_dir=state_dir, ctx=ch.ctx)
    # the remind wrapping happens here, where channels are built, and only here
    ch.reminder = RemindChannel(name, target)
    if cfg.mode == "remind":
        return ch.reminder
    return ch


def channel_configs(defined: Mapping[str, ChannelCfg], names: set[str],
                    where: str = "") -> dict[str, ChannelCfg]:
    """The configs behind channel ``names`` plus their reminder targets. Only what is used:
    an unused channel's missing secret must not stop the others. ``console`` and ``file``
    need no definition."""
    from ...errors import UsageError
    from ...playbook.model import Channel as ChannelModel

    cfgs: dict[str, ChannelCfg] = {}
    todo = sorted(names)
    while todo:
        n = todo.pop()
        if n in cfgs:
            continue
        c = defined.get(n)
        if c is None:
            if n not in ("console", "file"):
                raise UsageError(where + _("channel '{name}' is used but not defined").format(
                    name=n))
            c = ChannelModel(type=n)  # type: ignore[arg-type]
        cfgs[n] = c
        if c.remind:
            todo.append(c.remind)
    return cfgs


def make_channels(cfgs: Mapping[str, ChannelCfg], *, env: Mapping[str, str],
                  client: httpx.AsyncClient | None, state_dir: Path,
                  ctx: DeliveryContext | None = None,
                  existing: Mapping[str, Channel] | None = None,
                  sink: dict[str, Channel] | None = None) -> dict[str, Channel]:
    """The channels of ``cfgs``; reminder targets are built before the channels using them
    (or taken from ``existing``, channels already built). Returns only the new ones; each is
    also put in ``sink`` as it is built, so a caller can close them if a later one fails."""
    from ...errors import SopctlError

    if ctx is None:  # one limiter for all, so two channels on one robot share its quota
        from ..delivery import DeliveryContext

        ctx = DeliveryContext()
    built: dict[str, Channel] = dict(existing or {})
    todo = dict(cfgs)
    while todo:
        ready = [n for n, c in todo.items() if not c.remind or c.remind in built]
        if not ready:
            raise SopctlError(_("channels' `remind` references form a cycle or name unknown "
                                "channels: {names}").format(names=", ".join(sorted(todo))))
        for n in ready:
            built[n] = make_channel(n, todo.pop(n), env=env, client=client,
                                    state_dir=state_dir, ctx=ctx, channels=built)
            if sink is not None:
                sink[n] = built[n]
    return {n: built[n] for n in cfgs}
