"""A key the playbook language does not know.

Reported by the loader, with the closest known key when there is one. Unknown keys
are refused rather than ignored, because a misspelt ``quiet_hour`` would otherwise
silently turn quiet hours off.

Bad::

    timetable:
      - id: morning
        kind: good-morning
        time: "07:30"

Good::

    timetable:
      - id: morning
        kind: good-morning
        at: "07:30"
"""

CODE = "SOP010"
SLUG = "unknown-key"
SEVERITY = "error"
