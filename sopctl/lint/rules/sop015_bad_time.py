"""A clock time or window cannot be parsed.

Reported by the loader for ``at``, ``quiet_hours.start`` and ``end``. Write
``"07:30"`` or a window ``"13:00-16:00"`` (a window may not cross midnight). A
number such as 450 is refused with the fix spelled out, because YAML 1.1 tools turn
an unquoted ``7:30`` into 450.

Bad::

    timetable:
      - {id: morning, kind: good-morning, at: "25:00", text: 早上好}

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
"""

CODE = "SOP015"
SLUG = "bad-time"
SEVERITY = "error"
