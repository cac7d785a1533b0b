"""Errors that reach the user as a clean message and an exit code, never a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class SopctlError(Exception):
    """A failure the user can act on. ``exit_code`` follows the CLI's contract."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(SopctlError):
    exit_code = EXIT_USAGE


class PlaybookError(SopctlError):
    """A playbook that cannot be used; carries its located findings."""

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, findings: list | None = None):
        super().__init__(message)
        self.findings = findings or []
