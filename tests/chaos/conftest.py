"""Fixtures for the chaos suite (see harness.py)."""

from .harness import own_pg, pg_db  # noqa: F401
