"""A cron expression cannot be parsed.

Reported by the loader. ``cron`` takes five fields (minute hour day-of-month month
day-of-week) in the playbook's timezone, or a macro such as ``@daily``.

Bad::

    timetable:
      - {id: sale, kind: flash-sale, cron: "0 20 * * wed-x", text: 周三秒杀开始}

Good::

    timetable:
      - {id: sale, kind: flash-sale, cron: "0 20 * * wed", text: 周三秒杀开始}
"""

CODE = "SOP014"
SLUG = "bad-cron"
SEVERITY = "error"
