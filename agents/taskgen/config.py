"""Task-generation settings: how many tasks per category and split, which templates, the seed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.schema import CATEGORIES
from kb.config import DEFAULT_KB_DIR

DEFAULT_PER_CATEGORY = {
    "structural_understanding": 30_000, "conceptual_knowledge": 20_000, "property_prediction": 18_000,
    "property_comparison": 25_000, "advanced_reasoning": 17_000, "synthesis_design": 20_000,
}
DEFAULT_SPLITS = {"train": 0.8, "dev": 0.1, "test": 0.1}


class TaskGenConfig(BaseModel):
    """Layered once at the CLI; unknown keys and inconsistent counts are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kb_dir: Path = DEFAULT_KB_DIR
    out_dir: Path = Path(".polybench/tasks")
    seed: int = 0
    per_category: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_PER_CATEGORY))
    splits: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SPLITS))
    templates: list[str] | None = None       # only these templates (all when None)
    difficulties: list[Annotated[int, Field(ge=1, le=5)]] | None = None  # only tasks of these difficulty levels
    n_jobs: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    scale: float = Field(1.0, gt=0)          # multiply every count (0.01 = a quick small run)

    @field_validator("per_category")
    @classmethod
    def _known_categories(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; categories are {list(CATEGORIES)}")
        if any(n < 0 for n in value.values()):
            raise ValueError("counts must be >= 0")
        return value

    @model_validator(mode="after")
    def _splits_sum_to_one(self) -> TaskGenConfig:
        if set(self.splits) - {"train", "dev", "test"}:
            raise ValueError(f"unknown splits {sorted(set(self.splits) - {'train', 'dev', 'test'})}")
        if abs(sum(self.splits.values()) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {sum(self.splits.values())}")
        return self
