"""The timezone is not an IANA timezone name.

Reported by the loader. Servers usually run in UTC while operators think in local
time, so the playbook names its zone explicitly; China uses ``Asia/Shanghai``
(there is no ``Asia/Beijing``).

Bad::

    timezone: Asia/Beijing

Good::

    timezone: Asia/Shanghai
"""

CODE = "SOP013"
SLUG = "bad-timezone"
SEVERITY = "error"
