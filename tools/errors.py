"""The one error type of the tools: its message is written for the language model that called the tool."""

from __future__ import annotations

from kb.errors import PolyBenchError


class ToolError(PolyBenchError):
    """A tool could not do what was asked; the message says why and what would work instead."""
