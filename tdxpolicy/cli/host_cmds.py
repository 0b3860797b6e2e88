"""CLI commands: host (placeholder until its issue lands)."""

from __future__ import annotations

from . import app  # noqa: F401
