"""Loopback fakes of the chat platforms (real HTTP servers on 127.0.0.1) and a virtual clock.

    from tests.fakes import WeComRobotFake, VirtualClock
    with WeComRobotFake(keys={"k"}, clock=clock) as fake:
        ...  # point a channel's base_url at fake.url; assert on fake.accepted

Pytest fixtures live in tests/fakes/fixtures.py (``vclock``, ``start_fake``); a conftest can
pull them in with ``from tests.fakes.fixtures import *``.
"""

from .clock import VirtualClock
from .platforms import (
    DingTalkFake,
    DiscordFake,
    FeishuFake,
    GenericFake,
    SlackFake,
    TelegramFake,
    WebhookFake,
    WeComApiFake,
    WeComRobotFake,
)
from .server import Accepted, FakeServer, Request, Response

__all__ = ["Accepted", "DingTalkFake", "DiscordFake", "FakeServer", "FeishuFake", "GenericFake",
           "Request", "Response", "SlackFake", "TelegramFake", "VirtualClock", "WeComApiFake",
           "WeComRobotFake", "WebhookFake"]
