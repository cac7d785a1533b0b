"""A ``# sopctl: noqa`` comment suppresses nothing.

Reported by the lint engine. A suppression that no longer matches a finding hides
the next real problem on that line; remove it, or name the code it was meant for.

Bad::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}  # sopctl: noqa: SOP203

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
"""

CODE = "SOP099"
SLUG = "unused-noqa"
SEVERITY = "warning"
