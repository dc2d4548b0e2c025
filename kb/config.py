"""Where the KB lives and how to build it: built once at the edge (CLI) and passed down."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_DATA_DIR = Path("../shared/data")
DEFAULT_KB_DIR = Path(".polybench/kb")


class KBPaths:
    """The files of one KB: the live release under `current/`, staging for a build, persistent caches."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def db(self) -> Path:
        return self.current / "polybench.duckdb"

    @property
    def fp_index(self) -> Path:
        return self.current / "fp_index"

    @property
    def text_index(self) -> Path:
        return self.current / "text_index"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def cache(self) -> Path:
        return self.root / "cache"


class BuildConfig(BaseModel):
    """Settings of one KB build; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    kb_dir: Path = DEFAULT_KB_DIR
    n_jobs: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    download: bool = False          # fetch files missing from data_dir from their pinned URLs
    sources: list[str] | None = None  # source ids to ingest (all when None)
    max_rows: int | None = Field(default=None, ge=1)  # per source: a small KB for tests and demos
    text_index: bool = True
    force: bool = False             # rebuild even if nothing changed
    seed: int = 0

    @field_validator("data_dir", "kb_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(value).expanduser()

    @property
    def paths(self) -> KBPaths:
        return KBPaths(self.kb_dir)
