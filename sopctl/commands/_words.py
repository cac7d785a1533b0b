"""Words of the ledger as a person reads them: status words and the ledger's own reasons.
JSON and CSV keep the stable English word; tables and summaries show the translation."""

from __future__ import annotations

from ..i18n import N_, _

# A delivery's status as a person reads it in a table.
STATUS_LABELS = {
    "sent": N_("sent"), "failed": N_("failed"), "skipped": N_("skipped"),
    "uncertain": N_("uncertain"), "pending-confirmation": N_("pending confirmation"),
    "claimed": N_("claimed"), "released": N_("released"), "sending": N_("sending"),
}

# The ledger records its own fixed reasons in English (a stable record, read by scripts);
# a person reads them translated. tests/test_i18n_cli.py keeps them equal to sopctl/run's.
LEDGER_REASONS = (
    N_("missed while down"),
    N_("the runner stopped between claim and result; the message may or may not have been "
       "sent"),
    N_("handed back, never sent, by a runner that stopped; the next runner sends it"),
)


def status_text(status: str) -> str:
    """The status word ``status`` in the selected language."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def reason_text(reason: str | None) -> str:
    """A ledger reason as a person reads it: translated when it is one of the ledger's own."""
    if not reason:
        return ""
    return _(reason) if reason in LEDGER_REASONS else reason
