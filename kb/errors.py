"""Typed errors of the knowledge base; every message names the offending input and the reason."""

from __future__ import annotations


class PolyBenchError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidPolymerError(PolyBenchError, ValueError):
    """A polymer string that cannot be parsed or is not a usable repeat unit."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid polymer {text!r}: {reason}")


class UnknownPropertyError(PolyBenchError, KeyError):
    """A property name that is not in the registry (the message suggests close names)."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown property {name!r}{hint}")

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence
        return self.args[0]


class UnitError(PolyBenchError, ValueError):
    """A unit that is unknown or cannot be converted to the property's canonical unit."""


class ManifestError(PolyBenchError, ValueError):
    """The source manifest is malformed or names a file that cannot be found."""


class ChecksumError(PolyBenchError):
    """A source file whose md5 does not match the manifest."""

    def __init__(self, path: str, expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(f"md5 mismatch for {path}: manifest says {expected}, file has {actual}")


class KBNotBuiltError(PolyBenchError):
    """The DuckDB file is missing or was left incomplete by an interrupted build."""
