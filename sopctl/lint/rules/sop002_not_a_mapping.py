"""The playbook is not a mapping of keys.

Reported by the loader when the file is empty or its top level is a list or a
single value. A playbook is one mapping: ``name``, ``timezone``, ``positioning``,
``timetable`` and the other sections. A list of groups belongs in an inventory
file named by ``groups:``.

Bad::

    - id: g001
      opened: 2026-11-02

Good::

    name: 美肌福利群
    timezone: Asia/Shanghai
    positioning: {type: product, purpose: 跟着我一起变美, name_pattern: "美肌福利群{n:03}"}
"""

CODE = "SOP002"
SLUG = "not-a-mapping"
SEVERITY = "error"
