"""Typed arguments and results shared by the tools, and the design Constraint used by tasks and agents.

`Constraint` is defined here (the lowest layer that needs it) and re-exported by agents.schema, so there
is one definition for tools, task generation, solving and scoring.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
DataKind = Literal["experimental", "md_simulated", "dft", "synthetic"]


class Constraint(BaseModel):
    """One design requirement: a property range, a required / forbidden group, a class, a data kind..."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["property_range", "require_group", "forbid_group", "polymer_class", "data_kind", "licence"]
    property: str | None = Field(None, max_length=100, description="registry property name, for property_range")
    min: float | None = Field(None, description="lower bound (inclusive), in `unit`")
    max: float | None = Field(None, description="upper bound (inclusive), in `unit`")
    unit: str | None = Field(None, max_length=100, description="unit of min/max; the property's canonical unit when omitted")
    kind: DataKind | None = Field(None, description="only values of this kind count (property_range)")
    group: str | None = Field(None, max_length=100, description="functional group / linkage name, for require/forbid_group")
    value: str | None = Field(None, max_length=100, description="polymer class, data kind or licence text")

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Constraint:
        need = {"property_range": ["property"], "require_group": ["group"], "forbid_group": ["group"],
                "polymer_class": ["value"], "data_kind": ["value"], "licence": ["value"]}[self.type]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} constraint needs {', '.join(missing)}")
        if self.type == "property_range" and self.min is None and self.max is None:
            raise ValueError("a property_range constraint needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self

    def describe(self) -> str:
        """The constraint in words, for questions and traces."""
        if self.type == "property_range":
            unit = f" {self.unit}" if self.unit else ""
            kind = f" ({self.kind.replace('_', ' ')})" if self.kind else ""
            if self.min is not None and self.max is not None:
                return f"{self.property}{kind} between {self.min:g} and {self.max:g}{unit}"
            if self.min is not None:
                return f"{self.property}{kind} >= {self.min:g}{unit}"
            return f"{self.property}{kind} <= {self.max:g}{unit}"
        if self.type == "require_group":
            return f"contains {self.group}"
        if self.type == "forbid_group":
            return f"no {self.group}"
        return f"{self.type.replace('_', ' ')} = {self.value}"


class Provenance(BaseModel):
    """Where a fact came from: KB ids and source ids."""

    model_config = ConfigDict(extra="forbid")

    polymer_ids: list[int] = []
    source_ids: list[str] = []
    kb_version: str | None = None


class ToolResult(BaseModel):
    """The envelope every LangChain-exposed tool returns: ok + data, or ok=False + an error for the model."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    tool: str
    data: Any = None
    error: str | None = None
    provenance: Provenance = Provenance()
