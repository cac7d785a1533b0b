"""Fetching WeCom's customer-group statistics against a loopback server that follows the
documented protocol (tests/calibrate/wecom_stats.py)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from sopctl.calibrate.observed import DataError
from sopctl.calibrate.wecom import fetch
from sopctl.playbook.model import Channel
from sopctl.run.channels import make_channel

from .wecom_stats import WeComStats

TODAY = date(2026, 12, 2)


def owner_data(owners: int, days: int) -> dict[str, dict[date, dict[str, int]]]:
    out = {}
    for k in range(owners):
        per = {}
        for i in range(days):
            d = TODAY - timedelta(days=days - i)
            per[d] = {"chat_total": 5 + k, "new_member_cnt": 3 + (i + k) % 4,
                      "member_total": 900 + 10 * k + i, "member_has_msg": 70 + k,
                      "msg_total": 300 + i, "new_chat_cnt": 0, "chat_has_msg": 4}
        out[f"owner{k:03d}"] = per
    return out


def channel(url: str, tmp_path: Path):
    cfg = Channel(type="wecom-customer-group", corp_id="ww1", corp_secret="${CORP_SECRET}",
                  sender="zhangsan", base_url=url)
    return make_channel("cg", cfg, env={"CORP_SECRET": "s3cret"}, client=None,
                        state_dir=tmp_path)


def test_windows_owners_and_paging_follow_the_protocol(tmp_path):
    data = owner_data(owners=130, days=70)  # 2 by-day batches of owners, 3 windows
    with WeComStats(data, TODAY) as srv:
        obs = fetch(channel(srv.url, tmp_path), since=TODAY - timedelta(days=70),
                    today=TODAY)
    assert srv.violations == []
    assert obs.days == 70 and obs.start == TODAY - timedelta(days=70)
    first = TODAY - timedelta(days=70)
    assert obs.members[0] == sum(r[first]["member_total"] for r in data.values())
    assert obs.groups[0] == sum(5 + k for k in range(130))
    calls = [api for api, _ in srv.log]
    assert calls.count("statistic") == 3  # one page of 1,000 owners per 30-day window
    assert calls.count("statistic_group_by_day") == 3 * 2


def test_owner_listing_is_paged(tmp_path, monkeypatch):
    import sopctl.calibrate.wecom as w

    monkeypatch.setattr(w, "PAGE", 50)
    data = owner_data(owners=120, days=20)
    with WeComStats(data, TODAY) as srv:
        obs = fetch(channel(srv.url, tmp_path), since=TODAY - timedelta(days=20), today=TODAY)
    offsets = [b["offset"] for api, b in srv.log if api == "statistic"]
    assert offsets == [0, 50, 100] and srv.violations == []  # 20 days: one window
    assert obs.joins[0] == sum(r[TODAY - timedelta(days=20)]["new_member_cnt"]
                               for r in data.values())


def test_older_than_retention_is_cut_with_a_note(tmp_path):
    data = owner_data(owners=2, days=200)
    with WeComStats(data, TODAY) as srv:
        obs = fetch(channel(srv.url, tmp_path), since=TODAY - timedelta(days=200),
                    today=TODAY)
    assert srv.violations == []
    assert obs.start == TODAY - timedelta(days=180) and obs.days == 180
    assert any("180" in n for n in obs.notes)


def test_expired_token_is_refreshed_and_busy_is_waited_out(tmp_path):
    waits = []

    async def sleep(s):
        waits.append(s)

    data = owner_data(owners=3, days=20)
    with WeComStats(data, TODAY) as srv:
        srv.expire_next = True
        srv.busy_next = 2
        obs = fetch(channel(srv.url, tmp_path), since=TODAY - timedelta(days=20),
                    today=TODAY, sleep=sleep)
    assert obs.days == 20 and waits == [2.0, 4.0]


@pytest.mark.parametrize("code,hint", [(60011, "visible range"), (81017, "--owner")])
def test_errcodes_become_clear_messages(tmp_path, code, hint):
    with WeComStats(owner_data(2, 20), TODAY) as srv:
        srv.refuse = code
        with pytest.raises(DataError) as e:
            fetch(channel(srv.url, tmp_path), since=TODAY - timedelta(days=20), today=TODAY)
    assert f"errcode {code}" in e.value.message and hint in (e.value.hint or "")


def test_wrong_secret_is_a_clear_message(tmp_path):
    with WeComStats(owner_data(2, 20), TODAY, secret="other") as srv, \
            pytest.raises(DataError) as e:
        fetch(channel(srv.url, tmp_path), since=TODAY - timedelta(days=20), today=TODAY)
    assert "gettoken" in e.value.message and "40001" in e.value.message
