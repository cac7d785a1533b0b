"""The inventory file named by ``groups:`` cannot be read.

When ``groups:`` is a path, the groups are read from that file, relative to the
playbook. It must exist and hold either ``groups: [...]`` or a bare list of groups.

Bad::

    groups: 不存在的文件.yaml

Good::

    groups: groups.yaml   # next to the playbook, with "- {id: g001, opened: 2026-11-02}"
"""

CODE = "SOP004"
SLUG = "inventory-file"
SEVERITY = "error"
