"""The one schema of PolyBench records: Task, SubQuestion, Answer, Step, Trace (and Constraint, re-exported).

Every record written to disk carries `schema_version`. Generation, solving, training data and scoring all
use these models; nothing else defines a task.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.schema import Constraint

SCHEMA_VERSION = 1

Category = Literal["structural_understanding", "conceptual_knowledge", "property_prediction",
                   "property_comparison", "advanced_reasoning", "synthesis_design"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
Split = Literal["train", "dev", "test"]
AnswerType = Literal["choice", "number", "ranking", "set", "polymer", "yes_no"]

# The skill taxonomy: every sub-question carries exactly one of these tags.
SKILLS: dict[str, str] = {
    "parse-structure": "read a repeat unit: atoms, rings, attachment points, validity",
    "identify-linkage": "find the linkages / functional groups of a repeat unit",
    "count-features": "count rings, aromatic rings, atoms or compute formula / molecular weight",
    "classify-polymer": "assign the polymer class from backbone linkages or monomer classes",
    "recall-definition": "state what a property means and its unit",
    "look-up-property": "read a measured property value from the knowledge base",
    "estimate-property": "estimate a property value from structure",
    "convert-unit": "convert a value between units",
    "compare": "compare two values or order several",
    "check-constraint": "decide whether a value or structure satisfies a constraint",
    "select-monomers": "choose the monomers (and class) that make a polymer",
    "judge-feasibility": "decide whether a synthesis route is feasible",
    "structure-effect": "relate a structural change to a property change",
    "compose": "combine sub-answers into the final answer",
}
Skill = Literal[tuple(SKILLS)]  # type: ignore[valid-type]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(_Record):
    """A gold or predicted answer, typed so that a scorer can compare it without guessing."""

    type: AnswerType
    choice: str | None = None                 # the option letter, for choice
    number: float | None = None               # for number
    unit: str | None = None                   # unit of `number`
    tolerance: float | None = None            # absolute tolerance in `unit` (number)
    log_tolerance: float | None = None        # tolerance in log10 units, for log-scale properties
    ranking: list[str] | None = None          # labels best/first to last, for ranking
    items: list[str] | None = None            # for set
    polymer: str | None = None                # a PSMILES, for polymer (design answers are checked by tools)
    yes: bool | None = None                   # for yes_no

    @model_validator(mode="after")
    def _value_fits_type(self) -> Answer:
        field = {"choice": "choice", "number": "number", "ranking": "ranking", "set": "items",
                 "polymer": "polymer", "yes_no": "yes"}[self.type]
        if getattr(self, field) is None:
            raise ValueError(f"a {self.type} answer needs `{field}`")
        return self

    def text(self) -> str:
        """The answer as one line, the way a model is asked to write it after 'Answer:'."""
        if self.type == "choice":
            return str(self.choice)
        if self.type == "number":
            return f"{self.number:.4g} {self.unit}".strip() if self.unit else f"{self.number:.4g}"
        if self.type == "ranking":
            return " > ".join(self.ranking or [])
        if self.type == "set":
            return ", ".join(self.items or [])
        if self.type == "polymer":
            return str(self.polymer)
        return "yes" if self.yes else "no"


class SubQuestion(_Record):
    """One step of a complex task, with its own gold and skill tag."""

    id: str
    question: str
    skill: Skill
    gold: Answer
    depends_on: list[str] = []


class Task(_Record):
    """One benchmark item."""

    schema_version: int = SCHEMA_VERSION
    id: str
    split: Split
    category: Category
    template: str
    difficulty: int = Field(ge=1, le=5)
    question: str
    answer_type: AnswerType
    gold: Answer
    options: list[str] | None = None          # "A) ...", for choice
    constraints: list[Constraint] = []        # for design tasks
    sub_questions: list[SubQuestion] = []
    composition: str | None = None            # how the sub-answers compose to the gold
    polymer_ids: list[int] = []
    source_ids: list[str] = []
    generator: str
    generator_version: str

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if self.gold.type != self.answer_type:
            raise ValueError(f"gold type {self.gold.type} != answer_type {self.answer_type}")
        if self.answer_type == "choice" and not self.options:
            raise ValueError("a choice task needs options")
        if self.difficulty >= 3 and not self.sub_questions:
            raise ValueError("tasks of difficulty >= 3 need sub-questions")
        return self


class ToolCall(_Record):
    name: str
    args: dict


class Step(_Record):
    """One step of a structured chain of thought."""

    skill: Skill
    thought: str
    tool_call: ToolCall | None = None
    observation: str | None = None
    source: str | None = None                 # provenance of the observation (KB ids, source ids)
    conclusion: str | None = None


class Trace(_Record):
    """A solver's reasoning on one task: steps, final answer, and whether it was verified."""

    schema_version: int = SCHEMA_VERSION
    task_id: str
    model: str
    steps: list[Step]
    final_answer: Answer | None = None
    raw_final: str | None = None              # the text the model wrote after 'Answer:'
    verified: bool = False
    verification_note: str | None = None


__all__ = [
    "CATEGORIES",
    "SKILLS",
    "Answer",
    "Category",
    "Constraint",
    "Skill",
    "Step",
    "SubQuestion",
    "Task",
    "ToolCall",
    "Trace",
]
