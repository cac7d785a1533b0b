"""The file is not readable YAML, or is hostile.

Reported by the loader, located at the problem: syntax errors, tabs, more than one
document, tags such as ``!!python/object`` (never executed), alias bombs, nesting
deeper than 64 levels, binary or non-UTF-8 content, and files over 4 MiB.

Bad::

    name: 美肌福利群
    timetable: [
      {id: morning, at: "07:30"

Good::

    name: 美肌福利群
    timetable:
      - {id: morning, kind: good-morning, at: "07:30"}
"""

CODE = "SOP001"
SLUG = "yaml-syntax"
SEVERITY = "error"
