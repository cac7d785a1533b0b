"""Console exports in, located messages out: every bad input is a clear error."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sopctl.calibrate.observed import DataError, read_table, write_table
from sopctl.calibrate.synthetic import generate
from sopctl.playbook.loader import load_playbook

ZH = "日期,群聊总数,新增群成员数,群成员总数,发过消息的群成员数,群聊消息总数\n"
EN = "stat_time,chat_total,new_member_cnt,member_total,member_has_msg,msg_total\n"


def rows(n: int = 20, start: date = date(2026, 6, 1), skip: int | None = None) -> str:
    out = []
    for i in range(n):
        if i == skip:
            continue
        d = start + timedelta(days=i)
        out.append(f"{d},10,{5 + i % 3},{2000 + i},{180 + i},{900 + 3 * i}\n")
    return "".join(out)


def test_chinese_headers_with_bom(tmp_path):
    p = tmp_path / "stats.csv"
    p.write_bytes((ZH + rows()).encode("utf-8-sig"))
    obs = read_table(p)
    assert obs.days == 20 and obs.start == date(2026, 6, 1)
    assert obs.members[1] == 2001 and obs.active[0] == 180
    # leaves derived: members(t-1) + joins(t) - members(t)
    assert obs.leaves[1] == 2000 + 6 - 2001


def test_gb18030_and_english_api_names(tmp_path):
    p = tmp_path / "zh.csv"
    p.write_bytes((ZH + rows()).encode("gb18030"))
    assert read_table(p).days == 20
    q = tmp_path / "en.csv"
    q.write_text(EN + rows(), encoding="utf-8")
    assert read_table(q).days == 20


def test_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(ZH.strip().split(","))
    for line in rows().splitlines():
        d, *nums = line.split(",")
        ws.append([date.fromisoformat(d), *map(int, nums)])
    p = tmp_path / "stats.xlsx"
    wb.save(p)
    obs = read_table(p)
    assert obs.days == 20 and obs.messages[0] == 900


def test_bad_cell_is_located(tmp_path):
    p = tmp_path / "s.csv"
    text = ZH + rows().replace("2026-06-03,10,", "2026-06-03,ten,", 1)
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(p)
    assert f"{p}:4:2:" in e.value.message and "'ten'" in e.value.message


def test_bad_date_and_duplicate_day(tmp_path):
    p = tmp_path / "s.csv"
    lines = rows().splitlines(keepends=True)
    p.write_text(ZH + "".join(lines) + lines[2] + "2026-13-45,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(p)
    msg = e.value.message
    assert f"{p}:22: 2026-06-03 repeats row 4" in msg
    assert f"{p}:23:1: '2026-13-45' is not a date" in msg


def test_gap_is_reported_not_filled(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text(ZH + rows(skip=5), encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(p)
    assert "1 days missing" in e.value.message and "2026-06-06" in e.value.message


def test_missing_column_names_what_is_accepted(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("日期,群聊总数\n2026-06-01,3\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(p)
    assert ":1: missing column(s)" in e.value.message and "member_total" in e.value.message
    assert e.value.hint and "群成员总数" in e.value.hint


def test_more_speakers_than_members_is_refused(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text(ZH + rows().replace(",2000,180,", ",2000,2500,", 1), encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(p)
    assert "more members wrote (2500) than the groups hold (2000)" in e.value.message


def test_written_table_reads_back(tmp_path):
    pb = load_playbook("examples/minimal.yaml").playbook
    obs = generate(pb, start=date(2026, 3, 1), days=30, groups=3, seed=1)
    p = tmp_path / "gen.csv"
    write_table(obs, p)
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")
    back = read_table(p)
    assert back.days == 30 and (back.members == obs.members).all()
