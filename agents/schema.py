"""The one schema of PolyBench records: Task, SubQuestion, Answer, Step, Trace (and Constraint, re-exported).

Every record written to disk carries `schema_version`. Generation, solving, training data and scoring all
use these models; nothing else defines a task.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.schema import Constraint, DataKind

SCHEMA_VERSION = 2  # 2: ranking answers carry their order; traces carry outcome and counts

Category = Literal["structural_understanding", "conceptual_knowledge", "property_prediction",
                   "property_comparison", "advanced_reasoning", "synthesis_design"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
Split = Literal["train", "dev", "test"]
# A person's design request asked in the chat: solved on the whole KB, never written to a task file, never
# scored, and the only task without a gold (there is no right answer to match; the tools check the answer).
REQUEST_SPLIT: Literal["chat"] = "chat"
TaskSplit = Literal["train", "dev", "test", "chat"]
AnswerType = Literal["choice", "number", "ranking", "set", "polymer", "yes_no"]
RankingOrder = Literal["ascending", "descending"]   # ascending: first label = lowest value
# How one attempt at a task ended; shared by solver traces, distillation and evaluation.
#   solved: final answer right (or, for design, every check passed); wrong: answered, not right;
#   unparseable: no answer could be read from the output; refused: the model declined to answer;
#   budget: a step / tool-call / time budget ran out first; tool_error: a tool failure ended the attempt.
Outcome = Literal["solved", "wrong", "unparseable", "refused", "budget", "tool_error"]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]

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
    ranking: list[str] | None = None          # labels in the order written, for ranking
    order: RankingOrder | None = None         # ranking only: ascending (first = lowest) or descending
    items: list[str] | None = None            # for set
    polymer: str | None = None                # a PSMILES, for polymer (design answers are checked by tools)
    yes: bool | None = None                   # for yes_no

    @model_validator(mode="after")
    def _value_fits_type(self) -> Answer:
        field = {"choice": "choice", "number": "number", "ranking": "ranking", "set": "items",
                 "polymer": "polymer", "yes_no": "yes"}[self.type]
        if getattr(self, field) is None:
            raise ValueError(f"a {self.type} answer needs `{field}`")
        if self.type == "ranking" and self.order is None:
            raise ValueError("a ranking answer needs `order` (ascending: first = lowest; descending: first = highest)")
        if self.type != "ranking" and self.order is not None:
            raise ValueError("`order` belongs to ranking answers only")
        return self

    def highest_first(self) -> list[str]:
        """A ranking's labels from highest to lowest, whichever way it was written."""
        labels = list(self.ranking or [])
        return labels[::-1] if self.order == "ascending" else labels

    def text(self) -> str:
        """The answer as one line, the way a model is asked to write it after 'Answer:'."""
        if self.type == "choice":
            return str(self.choice)
        if self.type == "number":
            return f"{self.number:.4g} {self.unit}".strip() if self.unit else f"{self.number:.4g}"
        if self.type == "ranking":  # '<' reads lowest first, '>' highest first: the text says its direction
            return (" < " if self.order == "ascending" else " > ").join(self.ranking or [])
        if self.type == "set":
            return ", ".join(self.items) if self.items else "none"
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


class PolymerRef(_Record):
    """A polymer as a question names it: its label in the question, its repeat unit and the name shown."""

    label: str                                # "A", "P1", "polymer", ... exactly as the question labels it
    psmiles: str                              # the repeat unit (canonical key of the KB polymer)
    name: str | None = None                   # the name the question shows, if any


class QuotedValue(_Record):
    """A value printed in the question itself (e.g. '122 degC' for polymer A), with its unit as written."""

    label: str
    value: float
    unit: str


class TaskParams(_Record):
    """The parameters a template drew, exactly as the question states them: never the answer.

    Solvers (the reasoner), checks and baselines read these instead of parsing the question's prose.
    Templates fill what applies and leave the rest empty. Polymers are labelled as the question labels
    them ("polymer" for a question about one polymer; "A", "B", ... for options and compared polymers;
    "P1", ... in filters); a choice task whose options are polymers lists every option, so nothing singles
    out the right one. Units are kb.units names ("degC", not "°C"). Per template (`asked` in quotes):
      structural: linkage_present, backbone_atoms: polymers=[polymer], asked ("linkage_present",
        "backbone_atoms"); aromatic_ring_count: polymers=[polymer], repeat_units, asked "aromatic_rings"; repeat_unit_weight: + unit "g/mol", asked
        "repeat_unit_mass"; more_aromatic_rings: polymers A, B, asked "more_aromatic_rings";
        valid_repeat_unit: shown_smiles (the string to judge; no polymers), asked "valid_repeat_unit".
      property_prediction (property_value, _choice, _stepwise): polymers=[polymer], property, kind, unit (the
        canonical unit the value is asked in), asked "value".
      property_comparison: pair_higher, pair_higher_stepwise: polymers A, B, property, kind, unit, direction;
        pair_higher_units: + quoted_values (A's and B's values in the units printed); rank_by_property:
        polymers A.., property, kind, unit, order (the direction asked; the gold is written in it too).
      conceptual_knowledge: polymerization_class: monomers, asked "polymerization_class"; reaction_linkage:
        monomers, monomer_roles (SMiPoly monomer-class codes, e.g. "diCOOH"), asked "linkage";
        monomers_for_polymer: polymers=[polymer], asked "monomers"; polymer_from_monomers: monomers,
        polymers A-D (the options), asked "product"; property_definition (a definition applied to printed
        values): quoted_values (label = the input's property), kind, unit (of the answer), property (the
        asked one, when a registry property), asked (the relation, e.g. "thermal_diffusivity"), polymers
        only for "molar_volume".
      advanced_reasoning: constraint_filter: polymers P1.. (constraints on the task), asked "filter";
        gas_selectivity_tradeoff: polymers A-D, property (perm of the first gas), kind, unit "Barrer",
        gases, threshold, asked "most_selective"; structure_change_effect: polymers A, B, property, kind,
        unit, asked "effect"; unit_threshold: polymers=[polymer], property, kind, unit (the threshold's unit),
        threshold, direction ("higher": is it above the threshold; "lower": below), asked "threshold".
      synthesis_design: design_polymer: asked "design" (constraints on the task; no polymer: the answer is
        open); route_for_polymer: polymers=[polymer], asked "route"; route_feasibility: polymers=[polymer],
        monomers, polymer_class, asked "route_feasible".
    """

    polymers: list[PolymerRef] = []           # the polymers the question names, in question order
    property: str | None = None               # registry property asked about
    kind: DataKind | None = None              # the data kind the question specifies
    unit: str | None = None                   # the unit the answer (or threshold) is stated in
    direction: Literal["higher", "lower"] | None = None   # which one a pair asks for; above / below a threshold
    order: RankingOrder | None = None         # the direction a ranking question asks for
    monomers: list[str] = []                  # monomer SMILES shown in the question, in order
    monomer_roles: list[str] = []             # how each monomer reacts, when the question says it
    polymer_class: str | None = None          # a polymerization class the question names
    group: str | None = None                  # a functional group / linkage the question names
    gases: list[str] = []                     # gas pair of a selectivity question (numerator first)
    threshold: float | None = None            # a threshold the question states (in `unit`)
    quoted_values: list[QuotedValue] = []     # values printed in the question
    asked: str | None = None                  # what the question asks for (per template, see above)
    shown_smiles: str | None = None           # a string the question shows verbatim to be judged (not a KB key)
    repeat_units: int | None = None           # how many repeat units a count is asked over (1: one unit)


class Task(_Record):
    """One benchmark item."""

    schema_version: int = SCHEMA_VERSION
    id: str
    split: TaskSplit                          # a benchmark split, or "chat" for a person's request (no gold)
    category: Category
    template: str
    difficulty: int = Field(ge=1, le=5)
    question: str
    answer_type: AnswerType
    gold: Answer | None = None                # required on every benchmark task; None only on a chat request
    options: list[str] | None = None          # "A) ...", for choice
    constraints: list[Constraint] = []        # for design tasks
    params: TaskParams = TaskParams()         # the drawn parameters, as the question states them
    sub_questions: list[SubQuestion] = []
    composition: str | None = None            # how the sub-answers compose to the gold
    polymer_ids: list[int] = []
    source_ids: list[str] = []
    generator: str
    generator_version: str

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if self.split == REQUEST_SPLIT:
            return self._request_consistent()
        if self.gold is None:
            raise ValueError(f"a {self.split} task needs a gold answer (only a chat request has none)")
        if self.gold.type != self.answer_type:
            raise ValueError(f"gold type {self.gold.type} != answer_type {self.answer_type}")
        if self.answer_type == "choice" and not self.options:
            raise ValueError("a choice task needs options")
        if self.difficulty >= 3 and not self.sub_questions:
            raise ValueError("tasks of difficulty >= 3 need sub-questions")
        return self

    def _request_consistent(self) -> Task:
        """A chat request: an open design question (constraints checked by the tools), with no gold."""
        if self.gold is not None or self.sub_questions:
            raise ValueError("a chat request has no gold and no sub-questions (nothing to score it against)")
        if self.answer_type != "polymer" or self.template != "design_polymer" or not self.constraints:
            raise ValueError("a chat request is a design_polymer task with constraints and a polymer answer")
        return self

    @property
    def is_request(self) -> bool:
        """A chat request (split "chat"): no gold, never written to a task file, never scored."""
        return self.split == REQUEST_SPLIT


class ToolCall(_Record):
    name: str
    args: dict


class Step(_Record):
    """One step of a structured chain of thought: a thought, optionally a tool call and what it returned."""

    skill: Skill
    thought: str
    tool_call: ToolCall | None = None
    observation: str | None = None
    tool_ok: bool | None = None               # False when the tool answered ok=false (or raised)
    source: str | None = None                 # provenance of the observation (KB ids, source ids)
    conclusion: str | None = None
    sub_question: str | None = None           # id of the task's sub-question this step answers
    sub_answer: Answer | None = None          # the step's answer to that sub-question (scored by eval)


class Trace(_Record):
    """A solver's reasoning on one task: steps, final answer, how the attempt ended, and whether verified."""

    schema_version: int = SCHEMA_VERSION
    task_id: str
    model: str
    steps: list[Step]
    final_answer: Answer | None = None
    raw_final: str | None = None              # the text the model wrote after 'Answer:'
    outcome: Outcome | None = None            # set once the attempt is scored or verified
    verified: bool = False
    verification_note: str | None = None
    malformed_outputs: list[str] = []         # raw model outputs that could not be parsed (kept, not dropped)
    tool_calls: int = 0
    tool_errors: int = 0
    seconds: float | None = None


__all__ = [
    "CATEGORIES",
    "OUTCOMES",
    "REQUEST_SPLIT",
    "SKILLS",
    "Answer",
    "Category",
    "Constraint",
    "Outcome",
    "PolymerRef",
    "QuotedValue",
    "RankingOrder",
    "Skill",
    "Step",
    "SubQuestion",
    "Task",
    "TaskParams",
    "TaskSplit",
    "ToolCall",
    "Trace",
]
