"""The channels a runner posts through, kept in step with its playbooks.

Built from what the playbooks use (an unused channel's missing secret must not stop the
others). When a playbook is reloaded, :meth:`ChannelSet.refresh` builds the channels that
are new or whose settings changed before anything is swapped, so a reload whose new
channel cannot be built (an unknown type, a secret not set) is refused as a whole and the
running plan keeps its channels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..i18n import _

if TYPE_CHECKING:
    from ..playbook.model import Channel as ChannelCfg
    from ..playbook.model import Playbook
    from .channels.base import Channel


def used_channels(pb: Playbook) -> set[str]:
    """Channel names the playbook's timetable reaches, over all its groups."""
    from ..plan.groups import group_channel, playbook_groups

    return {group_channel(pb, g, s) for g in playbook_groups(pb) for s in pb.timetable}


class ChannelSet:
    """Channel objects by name; ``channels`` is updated in place, so holders see changes."""

    def __init__(self, *, override: str | None, env: Mapping[str, str], state_dir: Path,
                 ctx: Any, client: Any):
        self.override, self.env, self.state_dir = override, env, state_dir
        self.ctx, self.client = ctx, client
        self.cfgs: dict[str, ChannelCfg] = {}
        self.channels: dict[str, Channel] = {}
        self._retired: list[Channel] = []

    def configs(self, playbooks: Iterable[Playbook],
                where: Mapping[int, str] | None = None) -> dict[str, ChannelCfg]:
        """The settings of every channel the playbooks use (``--channel`` replaces them)."""
        from ..playbook.model import Channel as ChannelModel
        from .channels import MODULES, channel_configs

        pbs = list(playbooks)
        if self.override:
            cfg = next((pb.channels[self.override] for pb in pbs
                        if self.override in pb.channels), None)
            if cfg is None:
                if self.override not in MODULES:
                    raise UsageError(_("--channel {name}: neither a channel of the playbook "
                                       "nor a channel type").format(name=self.override),
                                     hint=_("e.g. --channel console"))
                cfg = ChannelModel(type=self.override)  # type: ignore[arg-type]
            return {self.override: cfg}
        cfgs: dict[str, ChannelCfg] = {}
        for i, pb in enumerate(pbs):
            prefix = (where or {}).get(i, "")
            for n, c in channel_configs(pb.channels, used_channels(pb), prefix).items():
                cfgs.setdefault(n, c)
        return cfgs

    def refresh(self, playbooks: Iterable[Playbook],
                where: Mapping[int, str] | None = None) -> list[str]:
        """Build what is new or changed, then swap it in; returns the names swapped. Raises
        (SopctlError) before changing anything when a channel cannot be built."""
        from .channels import make_channels

        cfgs = self.configs(playbooks, where)
        changed = {n: c for n, c in cfgs.items() if self.cfgs.get(n) != c}
        grew = True
        while grew:  # a channel whose reminder target is rebuilt is rebuilt with it
            more = {n: c for n, c in cfgs.items() if n not in changed and c.remind in changed}
            changed.update(more)
            grew = bool(more)
        kept = {n: ch for n, ch in self.channels.items() if n not in changed}
        half: dict[str, Channel] = {}
        try:
            built = make_channels(changed, env=self.env, client=self.client,
                                  state_dir=self.state_dir, ctx=self.ctx, existing=kept,
                                  sink=half)
        except Exception:
            self._retired.extend(half.values())  # built before the failure: closed later
            raise
        for n in [n for n in self.channels if n not in cfgs]:  # no longer used
            self._retired.append(self.channels.pop(n))
        for n, ch in built.items():
            old = self.channels.get(n)
            if old is not None:
                self._retired.append(old)  # closed by the next tick, not under a sender
            self.channels[n] = ch
        self.cfgs = cfgs
        return sorted(built)

    async def close_retired(self) -> None:
        """Close channels a reload replaced (the runner calls this between ticks); a channel
        that fails to close is dropped all the same."""
        while self._retired:
            with contextlib.suppress(Exception):
                await self._retired.pop().aclose()

    async def aclose(self) -> None:
        await self.close_retired()
        for ch in self.channels.values():
            await ch.aclose()
