"""Settings of an eval run (EvalConfig) and the cells it asks, built once at the edge (eval.run).

With `cells` unset, the cells are every model x mode x CoT setting (the reasoner only with tools and CoT
on: it has no standalone text and always reasons in steps); a text model with tools gets `tools_limit` of
the sample and `tool_menu`. DEFAULT_CELLS is the embedded default of `python -m eval.run` with no flags.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.schema import CATEGORIES, Split
from eval.records import Cell, Mode

SMOLLM2 = "hf:smollm2"
SHORT_TOOL_MENU = ["describe_polymer", "get_property_values", "estimate_property", "forward_synthesis"]
BASELINES = ("nearest_neighbour", "constant")


class CellPlan(BaseModel):
    """One cell and how much of the sample it gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cell: Cell
    limit: int | None = None                  # the first `limit` tasks of the stratified sample (None: all)
    tool_menu: list[str] | None = None        # tools mode: the tools offered (None: all)


DEFAULT_CELLS = [
    CellPlan(cell=Cell(model="reasoner", mode="tools", cot=True)),
    CellPlan(cell=Cell(model=SMOLLM2, mode="standalone", cot=True)),
    CellPlan(cell=Cell(model=SMOLLM2, mode="standalone", cot=False)),
    CellPlan(cell=Cell(model=SMOLLM2, mode="tools", cot=True), limit=24, tool_menu=SHORT_TOOL_MENU),
    CellPlan(cell=Cell(model="baseline:nearest_neighbour", mode="baseline", cot=False)),
]


class EvalConfig(BaseModel):
    """Everything one run needs; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = ["reasoner", SMOLLM2]
    modes: list[Mode] = ["standalone", "tools"]
    cot: list[bool] = [True, False]
    cells: list[CellPlan] | None = None       # explicit cells (the embedded default); else models x modes x cot
    baselines: list[str] = ["nearest_neighbour"]
    split: Split = "test"
    categories: list[str] | None = None
    templates: list[str] | None = None
    limit: int | None = Field(default=150, ge=1)      # stratified sample size (None: every selected task)
    tools_limit: int | None = Field(default=None, ge=1)
    tool_menu: list[str] | None = None
    sub_questions: bool = True                # standalone: ask sub-questions on their own too
    sub_question_limit: int | None = Field(default=48, ge=0)  # ... for the first N tasks of a cell's sample (None: all)
    lenient_answer: bool = True               # standalone: no 'Answer:' line -> read the last line (counted apart)
    polybench: bool = True                    # include the PolyBench tasks (external benchmarks are extra)
    benchmarks: list[Path] = []
    kb_dir: Path = Path(".polybench/kb")
    tasks_file: Path = Path(".polybench/tasks/tasks.jsonl")
    models_dir: Path = Path(".polybench/models")
    out: Path = Path(".polybench/eval/default")
    batch_size: int = Field(default=16, ge=1)
    max_new_tokens: int = Field(default=16, ge=1)     # CoT off
    max_new_tokens_cot: int = Field(default=128, ge=1)
    threads: int | None = Field(default=None, ge=1)  # torch threads (None: torch's default, one per core)
    max_seconds: float = Field(default=20.0, gt=0)    # working seconds per task, tools mode
    seed: int = 0

    @model_validator(mode="after")
    def _known(self) -> EvalConfig:
        unknown = sorted(set(self.categories or []) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; categories are {', '.join(CATEGORIES)}")
        bad = sorted(set(self.baselines) - set(BASELINES))
        if bad:
            raise ValueError(f"unknown baselines {bad}; baselines are {', '.join(BASELINES)}")
        if not self.polybench and not self.benchmarks:
            raise ValueError("nothing to evaluate: give --benchmark FILE or keep the PolyBench tasks")
        return self


def default_config() -> EvalConfig:
    """The embedded default run: 150 stratified test tasks, the cells of DEFAULT_CELLS, sized for 15 minutes on
    2 idle cores (measured 12.4 min with both cores; SmolLM2's CoT cell, 5.5 min, is the largest part)."""
    return EvalConfig(cells=DEFAULT_CELLS, baselines=[], sub_question_limit=8, max_new_tokens_cot=80,
                      max_seconds=8.0)


def plan_cells(config: EvalConfig) -> list[CellPlan]:
    """The cells to ask, in order (explicit ones, else the product), then the baselines."""
    if config.cells is not None:
        plans = list(config.cells)
    else:
        plans = []
        for model in config.models:
            for mode in config.modes:
                for cot in config.cot:
                    if model == "reasoner" and (mode != "tools" or not cot):
                        continue  # the reasoner writes no standalone text and always reasons in steps
                    text_model_tools = mode == "tools" and model != "reasoner"
                    plans.append(CellPlan(cell=Cell(model=model, mode=mode, cot=cot),
                                          limit=config.tools_limit if text_model_tools else None,
                                          tool_menu=config.tool_menu if text_model_tools else None))
    plans += [CellPlan(cell=Cell(model=f"baseline:{b}", mode="baseline", cot=False)) for b in config.baselines]
    return plans
