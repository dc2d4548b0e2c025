"""SolverConfig: the budgets and switches of one solver, built at the edge (CLI, eval, distill) and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SolverConfig(BaseModel):
    """Budgets (steps, tool calls, wall time, retries) and options of the solver graph; unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int = Field(64, ge=1, le=1000, description="policy decisions (tool calls and answers) per task")
    max_tool_calls: int = Field(48, ge=0, le=1000, description="tool calls per task")
    max_seconds: float = Field(120.0, gt=0, description="working seconds per task (model + tools, summed over resumes)")
    recursion_limit: int = Field(0, ge=0, description="LangGraph super-steps; 0: derived from max_steps")
    max_retries: int = Field(2, ge=0, le=20, description="malformed outputs re-asked / failed verifications revised")
    max_tool_errors: int = Field(24, ge=1, le=1000, description="failed tool calls before the attempt ends as tool_error")
    checkpoint_db: Path | None = Field(None, description="SQLite file of LangGraph checkpoints (thread id = task id)")
    tool_menu: list[str] | None = Field(None, description="tool names the model gets; None: every tool")
    cot: bool = Field(True, description="LLM backbones are asked to think step by step")
    max_new_tokens: int = Field(160, ge=8, le=4096, description="tokens an LLM backbone may write per turn")
    constrained: bool = Field(True, description="hf: backbones decode under the tool-call / answer grammar")

    @model_validator(mode="after")
    def _limit_fits(self) -> SolverConfig:
        if self.recursion_limit and self.recursion_limit < self.graph_steps_needed():
            raise ValueError(f"recursion_limit {self.recursion_limit} is below the {self.graph_steps_needed()} "
                             "super-steps max_steps and max_retries can need; raise it or leave it 0")
        return self

    def graph_steps_needed(self) -> int:
        """Super-steps a run within budget can take (2 nodes per tool step, 3 per answer / revision, set-up)."""
        return 2 * self.max_steps + 4 * (self.max_retries + 1) + 8

    def graph_recursion_limit(self) -> int:
        """The recursion_limit passed to LangGraph."""
        return self.recursion_limit or self.graph_steps_needed()
