"""A required key is missing.

Reported by the loader at the mapping that lacks it. A playbook needs ``name``,
``timezone`` and ``positioning`` (with ``type``, ``purpose`` and ``name_pattern``);
a slot needs ``id`` and ``kind``; a group needs ``id`` and ``opened``.

Bad::

    groups:
      - {id: g001, members: 120}

Good::

    groups:
      - {id: g001, opened: 2026-11-02, members: 120}
"""

CODE = "SOP011"
SLUG = "missing-field"
SEVERITY = "error"
