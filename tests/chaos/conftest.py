"""Fixtures for the chaos suite (see harness.py)."""

from .harness import pg_db  # noqa: F401
