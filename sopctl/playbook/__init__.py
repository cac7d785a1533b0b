"""The playbook: its schema (``model``), its YAML source (``source``) and its loader."""

from .loader import Loaded, load_playbook

__all__ = ["Loaded", "load_playbook"]
