"""sopctl: community-operations SOPs as code."""

__version__ = "0.1.0"
