"""A key is written twice in the same mapping.

Reported by the loader at both places. YAML tools disagree on which value wins
(most silently keep the last one), so a duplicated ``at:`` or ``text:`` usually
means one of two edits is lost. Keep one.

Bad::

    timetable:
      - id: morning
        kind: good-morning
        at: "07:30"
        at: "08:00"

Good::

    timetable:
      - id: morning
        kind: good-morning
        at: "07:30"
"""

CODE = "SOP003"
SLUG = "duplicate-key"
SEVERITY = "error"
