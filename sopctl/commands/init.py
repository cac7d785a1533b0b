"""`sopctl init`: scaffold a playbook for one group type, ready to lint and edit.

The content templates follow the seeds' SOP table: a welcome in four parts, rules with
the warn-then-remove ladder, a daily timetable, and (for product and marketing groups)
the pond -> transit -> core funnel. Everything is written as text so comments survive.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from ..i18n import N_, _

GROUP_TYPES = ("product", "interest", "knowledge", "resource", "marketing")
PLATFORMS = ("wecom", "wechat", "feishu", "dingtalk", "telegram", "slack", "discord", "other")
SCHEMA_FILE = "playbook.schema.json"

# Per group type: names, the four welcome parts, the offer, and the day's slots
# (id, kind, time, when, text). ``when`` is a YAML fragment added to the slot.
_TEMPLATES: dict[str, dict] = {
    "product": {
        "name": "美肌福利群", "owner": "王老师", "planned_days": 30,
        "purpose": "跟着王老师科学护肤, 每天领福利",
        "value": ["每晚护肤课", "会员专属价", "晒单红包"],
        "theme": "本群是美肌护肤福利群, 分享护肤知识与专属福利",
        "services": "每天11:00产品知识, 每晚19:30 王老师14天护肤课",
        "prohibited": "禁止广告、外链、私加群友", "penalty": "第一次提醒, 第二次移出群聊",
        "rewarded": "晒单分享使用心得", "reward": "随机红包一个",
        "offer": "新人专享: 体验装9.9元包邮",
        "slots": [
            ("morning", "good-morning", "07:30", "",
             "早上好 {group_name} 的朋友们! 今天也要好好护肤哦"),
            ("knowledge", "knowledge", "11:00", "", "今日护肤小知识: 防晒是最好的抗老。{offer}"),
            ("show-off", "red-packet", "13:00-16:00", "every_days: 2",
             "晒单领红包: 晒出你的使用心得, 随机抽3位发红包"),
            ("course", "course", "19:30", 'life_days: "1-14"',
             "第{day}天护肤课开始啦, 王老师在线答疑"),
        ],
    },
    "interest": {
        "name": "晨跑打卡群", "owner": "李教练", "planned_days": 90,
        "purpose": "一群爱跑步的人, 互相监督每天打卡",
        "value": ["每日打卡", "每周跑团活动", "跑步技巧分享"],
        "theme": "本群是晨跑爱好者打卡交流群",
        "services": "每天08:00打卡提醒, 每周六线下跑团",
        "prohibited": "禁止广告、刷屏、人身攻击", "penalty": "第一次提醒, 第二次移出群聊",
        "rewarded": "坚持打卡、分享跑步路线", "reward": "月度打卡王奖品",
        "offer": "本月打卡满20天送定制跑步袜",
        "slots": [
            ("check-in", "check-in", "08:00", "", "打卡时间到! 今天跑了几公里? 发出来让大家看看"),
            ("tips", "knowledge", "12:10", "", "跑步小技巧: 跑前热身5分钟, 跑后拉伸10分钟"),
            ("weekend-run", "event", "09:00", "days: [sat]", "本周六跑团集合, 报名请接龙"),
            ("topic", "interaction", "20:10", "days: [wed]", "周三话题: 你最喜欢的跑步路线是哪条?"),
        ],
    },
    "knowledge": {
        "name": "职场写作营", "owner": "陈老师", "planned_days": 30,
        "purpose": "21天系统学习职场写作, 每天一课一练",
        "value": ["每日一课", "作业点评", "每周直播答疑"],
        "theme": "本群是付费职场写作训练营",
        "services": "每晚20:00发布课程, 每周四直播答疑",
        "prohibited": "禁止广告、外链、转发课程资料", "penalty": "第一次提醒, 第二次移出群聊",
        "rewarded": "按时交作业、帮助同学", "reward": "优秀作业点评与结营证书",
        "offer": "结营学员续报进阶课立减100元",
        "slots": [
            ("morning", "good-morning", "07:40", "", "早安, {group_name} 的同学们! 今天也写一点点"),
            ("lesson", "course",
             "20:00", 'life_days: "1-21"', "第{day}课已发布, 今晚22:00前交作业"),
            ("live", "live", "20:40", "days: [thu]", "本周直播答疑20:40开始, 有问题提前留言"),
        ],
    },
    "resource": {
        "name": "创业者资源群", "owner": "赵老师", "planned_days": 90,
        "purpose": "连接本地创业者, 交换资源与合作机会",
        "value": ["每周资源对接", "合作信息发布", "线下交流会"],
        "theme": "本群是创业者资源对接群",
        "services": "每周二资源对接, 每月一次线下交流",
        "prohibited": "禁止刷屏广告、私加骚扰", "penalty": "第一次提醒, 第二次移出群聊",
        "rewarded": "分享有效资源、促成合作", "reward": "优先推荐与群内曝光",
        "offer": "本月线下交流会免费报名",
        "slots": [
            ("intro", "interaction", "09:10", "", "新朋友请按格式自我介绍: 城市-行业-能提供的资源"),
            ("match", "event", "20:10", "days: [tue]",
             "资源对接时间: 请发出你的需求和能提供的资源"),
            ("digest", "knowledge", "12:20", "days: [fri]",
             "本周合作信息汇总, 有意向的朋友请私信群主"),
        ],
    },
    "marketing": {
        "name": "鲜果团购群", "owner": "果园小李", "planned_days": 60,
        "purpose": "产地直发的新鲜水果, 每周三秒杀, 天天拼团",
        "value": ["每周三秒杀", "拼团价", "坏果包赔"],
        "theme": "本群是鲜果团购福利群, 产地直发",
        "services": "每天10:00拼团, 每周三20:00秒杀",
        "prohibited": "禁止广告、外链、私加群友", "penalty": "第一次提醒, 第二次移出群聊",
        "rewarded": "晒单评价", "reward": "下单返现红包",
        "offer": "新人首单立减5元",
        "slots": [
            ("group-buy", "offer", "10:00", "", "今日拼团: 三人成团享拼团价, 点击链接参团"),
            ("show-off", "red-packet", "15:10", "every_days: 2",
             "晒单评价抽红包, 晒出你收到的水果"),
            ("flash-sale", "flash-sale", "20:00", "days: [wed]",
             "周三秒杀开始! 限量100份, 先到先得"),
        ],
    },
}
# a str.format template: its comments follow the chosen language
_FUNNEL = """funnel:
  stages:
    - {{id: pond, name: 鱼塘群, entry: free, effort: 15, next: transit, convert_days: 30,
       otherwise: sales}}
    - {{id: transit, name: 中转群, entry: product, effort: 20, next: core, convert_days: 30,
       otherwise: sales}}
    - {{id: core, name: 核心群, entry: spend, effort: 65, next: null}}  # {end}
    - {{id: sales, name: 二次转化群, entry: free, effort: 0, next: core}}  # {second}
  phases:
    - {{name: early, days: "1-7"}}
    - {{name: middle, days: "8-21"}}
    - {{name: middle-late, days: "22-45"}}
    - {{name: late, days: "46-"}}
"""


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def _shift(clock: str, platform: str) -> str:
    """Feishu bots are throttled exactly on :00 and :30, so move those minutes by 2."""
    if platform != "feishu":
        return clock
    parts = []
    for t in clock.split("-"):
        h, m = t.split(":")
        parts.append(f"{h}:{int(m) + 2:02d}" if m in ("00", "30") else t)
    return "-".join(parts)


def render_playbook(kind: str, name: str | None = None, timezone: str = "Asia/Shanghai",
                    platform: str = "wecom", opened: date | None = None,
                    schema_ref: str | None = SCHEMA_FILE) -> str:
    """The text of a new playbook for group type ``kind``."""
    t = _TEMPLATES[kind]
    name = name or t["name"]
    opened = opened or date.today()
    lines = [f"# yaml-language-server: $schema={schema_ref}"] if schema_ref else []
    lines += [
        "# " + _("{name}: generated by sopctl init; edit it, then check it with "
                 "`sopctl lint`").format(name=name),
        "version: 1",
        f"name: {_q(name)}",
        f"timezone: {_q(timezone)}",
        "positioning:",
        f"  type: {kind}",
        f"  purpose: {_q(t['purpose'])}",
        f"  value: [{', '.join(_q(v) for v in t['value'])}]",
        f"  name_pattern: {_q(name + '{n:03}')}",
        "  capacity: 200",
        f"  platform: {platform}",
        f"  planned_days: {t['planned_days']}",
        "roles:",
        f"  owner: {{name: {_q(t['owner'])}, title: 群主}}",
        "variables:",
        f"  offer: {_q(t['offer'])}",
        "welcome:",
        "  template: " + _q("欢迎 @{nickname} 加入{group_name}! {theme}。{services}。"
                            "群规: {prohibited}, {penalty}。{rewarded}可得{reward}。{offer}"),
    ]
    lines += [f"  {part}: {_q(t[part])}" for part in
              ("theme", "services", "prohibited", "penalty", "rewarded", "reward")]
    lines += [
        "rules:",
        "  nickname: {format: 城市-行业-昵称}",
        "  ladder: [warn, remove]  # " + _("first a warning, then removal from the group"),
        "  blacklist: true",
        "  items:",
        "    - id: no-ads",
        "      text: 禁止发广告、外链和二维码",
        "      detect: {links: true, keywords: [加微信, 代购, 兼职]}",
        "    - id: no-flood",
        "      text: 禁止刷屏",
        "      detect: {flood: {messages: 5, seconds: 10}}",
        "    - id: no-private-add",
        "      text: 禁止私加群友",
        "      detect: {private_add: true}",
        "auto_replies:",
        f"  - {{keywords: [福利, 优惠], reply: {_q(t['offer'])}}}",
        f"  - {{keywords: [群规], reply: {_q(t['prohibited'] + ', ' + t['penalty'])}}}",
        'quiet_hours: {start: "22:30", end: "07:00"}',
        "caps: {per_group_per_day: 8, per_member_per_day: 1, moments_per_day: 4}",
        "timetable:",
    ]
    for sid, skind, clock, when, text in t["slots"]:
        lines += [f"  - id: {sid}", f"    kind: {skind}", f"    at: {_q(_shift(clock, platform))}"]
        if when:
            lines.append(f"    {when}")
        lines.append(f"    text: {_q(text)}")
    text = "\n".join(lines) + "\n"
    if kind in ("product", "marketing"):
        text += _FUNNEL.format(end=_("the last stage"),
                               second=_("members who did not convert get a second round"))
    text += channel_block(platform) + "groups:\n"
    if platform == "telegram":  # a Telegram bot posts to a chat id, one per group
        text += "  # " + _("chat_id: the group's Telegram chat id; replace this example") + "\n"
    chat = ', chat_id: "-1001234567890"' if platform == "telegram" else ""
    text += (f"  - {{id: g001, name: {_q(name + '001')}, opened: {opened.isoformat()}, "
             f"members: 0{chat}}}\n")
    return text


# platform -> (channel name, the YAML flow mapping, what to set up, the variables it reads)
_CHANNELS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "wecom": ("wecom", 'type: wecom-robot, key: "${WECOM_ROBOT_KEY}"',
              N_("WeCom group robot: add a robot to the group and export the key= value of "
                 "its webhook address as WECOM_ROBOT_KEY"), ("WECOM_ROBOT_KEY",)),
    "wechat": ("wechat", "type: console, mode: remind",
               N_("WeChat groups have no bot interface: sopctl reminds the staff member to "
                  "post by hand (add remind: <a WeCom robot channel> to reach their phone)"),
               ()),
    "feishu": ("feishu", 'type: feishu, token: "${FEISHU_HOOK_TOKEN}"',
               N_("Feishu custom bot: export the token at the end of its webhook address as "
                  "FEISHU_HOOK_TOKEN; with signature verification on, add "
                  'secret: "${FEISHU_SIGN_SECRET}"'), ("FEISHU_HOOK_TOKEN",)),
    "dingtalk": ("dingtalk", 'type: dingtalk, token: "${DINGTALK_TOKEN}"',
                 N_("DingTalk robot: export the access_token of its webhook address as "
                    'DINGTALK_TOKEN; with signing on, add secret: "${DINGTALK_SECRET}"'),
                 ("DINGTALK_TOKEN",)),
    "telegram": ("telegram", 'type: telegram, token: "${TG_BOT_TOKEN}"',
                 N_("Telegram bot: export the token from @BotFather as TG_BOT_TOKEN, add the "
                    "bot to the group and set each group's chat_id"), ("TG_BOT_TOKEN",)),
    "slack": ("slack", 'type: slack, url: "${SLACK_WEBHOOK_URL}"',
              N_("Slack incoming webhook: export its URL as SLACK_WEBHOOK_URL"),
              ("SLACK_WEBHOOK_URL",)),
    "discord": ("discord", 'type: discord, url: "${DISCORD_WEBHOOK_URL}"',
                N_("Discord webhook: export its URL as DISCORD_WEBHOOK_URL"),
                ("DISCORD_WEBHOOK_URL",)),
    "other": ("webhook", 'type: webhook, url: "${SOPCTL_WEBHOOK_URL}", '
              'secret: "${SOPCTL_WEBHOOK_SECRET}"',
              N_("your own service: sopctl POSTs signed JSON to SOPCTL_WEBHOOK_URL "
                 "(docs/channels.md)"), ("SOPCTL_WEBHOOK_URL", "SOPCTL_WEBHOOK_SECRET")),
}


def channel_env(platform: str) -> tuple[str, ...]:
    """The environment variables the channel written for ``platform`` reads."""
    return _CHANNELS[platform][3]


def channel_block(platform: str) -> str:
    """``channels:`` and ``channel:`` for ``platform``, commented in the chosen language: the
    platform's channel is the default; console stays for trying it out."""
    from rich.cells import cell_len

    name, spec, how, _env = _CHANNELS[platform]

    def comment(text: str, indent: str) -> str:
        lines = [""]  # wrapped at spaces by terminal cells: a Chinese character counts two
        for word in text.split(" "):
            if lines[-1] and cell_len(f"{lines[-1]} {word}") > 90:
                lines.append(word)
            else:
                lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
        return "".join(f"{indent}# {line}\n" for line in lines)

    return (comment(_("secrets are never written here: ${NAME} is read from the environment "
                      "where sopctl runs"), "")
            + "channels:\n" + comment(_(how), "  ") + f"  {name}: {{{spec}}}\n"
            + comment(_("prints to the terminal: `sopctl run --rehearse` replays today on it, "
                        "`--channel console` sends everything there"), "  ")
            + "  console: {type: console}\n"
            f"channel: {name}\n")


def init(
    kind: str = typer.Option(None, "--type", "-t", help=f"Group type: {', '.join(GROUP_TYPES)}."),
    name: str = typer.Option(None, "--name", help="The playbook's name (中文 welcome)."),
    timezone: str = typer.Option(None, "--timezone", help="IANA timezone [Asia/Shanghai]."),
    platform: str = typer.Option(None, "--platform", help=f"One of: {', '.join(PLATFORMS)}."),
    output: Path = typer.Option(Path("playbook.yaml"), "--output", "-o",
                                help="Where to write it; - for stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Ask nothing; take the defaults."),
    schema: bool = typer.Option(True, "--schema/--no-schema",
                                help=f"Also write {SCHEMA_FILE} next to it, for editors."),
) -> None:
    """Scaffold a playbook: asks a few questions (or takes the options) and writes it."""
    from ..errors import UsageError

    to_stdout = str(output) == "-"
    if not to_stdout and output.exists() and not force:
        raise UsageError(_("{path} already exists; not overwriting it").format(path=output),
                         hint=_("pass --force to replace it, or --output to write elsewhere"))
    if kind is None:
        kind = "product" if yes else _choose(_("Group type"), GROUP_TYPES, "product")
    if kind not in GROUP_TYPES:
        raise UsageError(_("unknown group type '{kind}'").format(kind=kind),
                         hint=_("one of: {choices}").format(choices=", ".join(GROUP_TYPES)))
    if name is None:
        default = _TEMPLATES[kind]["name"]
        name = default if yes else _prompt(_("Name"), default=default)
    if timezone is None:
        timezone = "Asia/Shanghai" if yes else _prompt(_("Timezone"), default="Asia/Shanghai")
    _check_timezone(timezone)
    if platform is None:
        platform = "wecom" if yes else _choose(_("Platform"), PLATFORMS, "wecom")
    if platform not in PLATFORMS:
        raise UsageError(_("unknown platform '{platform}'").format(platform=platform),
                         hint=_("one of: {choices}").format(choices=", ".join(PLATFORMS)))
    if not name.strip():
        raise UsageError(_("the name cannot be empty"))

    text = render_playbook(kind, name.strip(), timezone, platform,
                           schema_ref=SCHEMA_FILE if schema and not to_stdout else None)
    if to_stdout:
        typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        if schema:
            from .schema import schema_text

            (output.parent / SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
    except OSError as exc:
        from ..i18n.thirdparty import os_reason

        raise UsageError(_("{path}: cannot write: {why}").format(
            path=output, why=os_reason(exc))) from None
    typer.echo(_("wrote {path} ({kind}, {platform}); next: sopctl lint {path}").format(
        path=output, kind=kind, platform=platform), err=True)
    typer.echo(_("see it work now, on the console: sopctl run --rehearse {path}").format(
        path=output), err=True)
    if channel_env(platform):
        typer.echo(_("before `sopctl run`, export {names} where it runs").format(
            names=", ".join(channel_env(platform))), err=True)


def _prompt(text: str, default: str) -> str:
    """typer.prompt as text (Ctrl-C here exits 130 like anywhere: sopctl.main)."""
    return str(typer.prompt(text, default=default))


def _choose(question: str, choices: tuple[str, ...], default: str) -> str:
    """Ask until the answer is one of ``choices``."""
    while True:
        answer = _prompt(f"{question} ({', '.join(choices)})", default=default).strip()
        if answer in choices:
            return answer
        typer.echo(_("'{answer}' is not one of: {choices}").format(
            answer=answer, choices=", ".join(choices)), err=True)


def _check_timezone(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ..errors import UsageError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(_("unknown IANA timezone '{tz}'").format(tz=tz),
                         hint=_('China uses "Asia/Shanghai"')) from None
