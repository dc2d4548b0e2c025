"""A multi-turn design chat over the whole KB: each turn is read by the request parser, refined by follow-ups,
answered with ranked candidates found and checked by the tools, with evidence and the steps taken.

With an LLM backbone (`model`), the model adds a short comment on the checked candidates, shown as its own
and not checked; the candidates themselves always come from the tools. The library returns `ChatReply` values; `python -m agents.chat` renders them. The session's constraints
are saved after every turn (atomic JSON) when a session file is given, so a killed chat resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from agents.chat.request import DesignRequest, merge, parse_request
from agents.files import atomic_write_text
from agents.schema import Skill, Step, ToolCall
from agents.solver.backbones import BackboneError
from agents.solver.graph import read_result
from agents.solver.policy import ToolBox
from agents.solver.prompts import SYSTEM
from tools.estimate import EstimateContext
from tools.kb_view import KBView
from tools.langchain_tools import build_tools
from tools.schema import Constraint

HELP = ("Ask for a polymer in words, e.g. 'a polyimide with Tg above 250 °C and no fluorine'; refine with "
        "'now also density below 1.3 g/cm3'. I read property ranges (KB properties, any unit of the "
        "property), groups ('no fluorine', 'containing ester'), and classes ('polyester').")


@dataclass
class Evidence:
    """One value behind a candidate: measured (with its sources) or estimated (with its interval)."""

    property: str
    value: float
    unit: str
    kind: str
    basis: Literal["measured", "estimated"]
    sources: str | None = None
    interval: tuple[float, float] | None = None
    n: int = 1


@dataclass
class Candidate:
    """A ranked polymer with its evidence, monomers and route, and the tools' verdict on the constraints."""

    rank: int
    key: str
    name: str | None
    polymer_id: int
    evidence: list[Evidence]
    monomers: list[str]
    route: str | None
    checked: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class ChatReply:
    """What one turn answered: a design (candidates), a clarification, or a refusal, in values."""

    kind: Literal["design", "clarify", "refused"]
    request: DesignRequest
    constraints: list[Constraint]
    candidates: list[Candidate] = field(default_factory=list)
    rejected: int = 0                       # candidates the tools' checks removed
    n_total: int = 0                        # KB polymers meeting the constraints
    steps: list[Step] = field(default_factory=list)
    message: str = ""
    model_note: str | None = None           # an LLM backbone's comment on the checked candidates (not checked)


class ChatSession:
    """One conversation: the constraints so far, the whole-KB tools, and an optional session file."""

    def __init__(self, kb_dir: Path, *, limit: int = 5, session_file: Path | None = None,
                 model: BaseChatModel | None = None) -> None:
        view = KBView(Path(kb_dir))           # the chat sees the whole KB: no split is hidden
        self.toolbox = ToolBox(view, EstimateContext(view), {})
        self.toolbox.tools = {t.name: t for t in build_tools(view, self.toolbox.estimate_ctx)}
        self.limit = limit
        self.model = model                    # None: the reasoner (rules and tools only)
        self.session_file = Path(session_file) if session_file else None
        self.constraints: list[Constraint] = []
        if self.session_file and self.session_file.exists():
            saved = json.loads(self.session_file.read_text())
            self.constraints = [Constraint.model_validate(c) for c in saved.get("constraints", [])]

    def ask(self, text: str) -> ChatReply:
        """Answer one message (a request, a follow-up refining the previous one, or something else)."""
        request = parse_request(text)
        if request.sql:
            return ChatReply("refused", request, self.constraints, message="; ".join(request.not_understood))
        if not request.usable:
            return ChatReply("clarify", request, self.constraints, message=_clarify(request))
        constraints = merge(self.constraints, request.constraints) if request.follow_up else request.constraints
        reply = self.search(constraints, request)
        if self.model is not None and reply.candidates:
            reply.model_note = self.comment(text, reply)
        self.constraints = constraints
        if self.session_file:
            atomic_write_text(self.session_file, json.dumps(
                {"constraints": [c.model_dump(exclude_none=True) for c in constraints]}))
        return reply

    def search(self, constraints: list[Constraint], request: DesignRequest) -> ChatReply:
        """Ranked KB candidates meeting the constraints, each checked by the tools before it is shown."""
        steps: list[Step] = []
        ranged = [c for c in constraints if c.type == "property_range"]
        rank = {"rank_by": ranged[0].property, "descending": ranged[0].min is not None} if ranged else {}
        args = {"constraints": [c.model_dump(exclude_none=True) for c in constraints], "limit": self.limit * 2, **rank}
        found = self._tool(steps, "check-constraint", "Find KB polymers meeting every constraint.", "find_polymers", args)
        matches = (found or {}).get("matches", [])
        candidates: list[Candidate] = []
        rejected = 0
        for match in matches:
            if len(candidates) >= self.limit:
                break
            problems = self._check(constraints, match["key"])
            if problems:
                rejected += 1
                continue
            record = self._tool(steps, "select-monomers", f"Monomers of {match['key']} in the KB.",
                                "polymer_record", {"polymer": match["key"]}) or {}
            monomers = [m["smiles"] for m in record.get("monomers", [])]
            classes = sorted({m["polymer_class"] for m in record.get("monomers", [])})
            route = f"{' + '.join(monomers)} by {', '.join(classes)} polymerization" if monomers else None
            if route is None:
                retro = self._tool(steps, "select-monomers", f"Disconnect {match['key']} into monomers.",
                                   "retro_synthesis", {"polymer": match["key"]}) or {}
                routes = retro.get("routes", [])
                if routes:
                    monomers = routes[0]["monomers"]
                    route = f"{' + '.join(monomers)} by {routes[0]['polymer_class']} (rule {routes[0]['rule']})"
            evidence = [Evidence(prop, v["value"], v["unit"], v["kind"], "measured", v["sources"], n=v["n"])
                        for prop, values in match.get("values", {}).items() for v in values]
            candidates.append(Candidate(len(candidates) + 1, match["key"], match.get("name"), match["polymer_id"],
                                        evidence, monomers, route, checked=True))
        reply = ChatReply("design", request, constraints, candidates, rejected, (found or {}).get("n_total", 0), steps)
        reply.message = (f"{len(candidates)} candidate(s) meeting {', '.join(c.describe() for c in constraints)}"
                         if candidates else
                         f"no KB polymer meets {', '.join(c.describe() for c in constraints)}; loosen a constraint")
        return reply

    def comment(self, text: str, reply: ChatReply) -> str:
        """The LLM backbone's short recommendation among the checked candidates (shown as the model's, unchecked)."""
        rows = [f"{c.rank}. {c.name or c.key} ({c.key}): " + "; ".join(
            f"{e.property} {e.value:.4g} {e.unit} ({e.basis})" for e in c.evidence) for c in reply.candidates]
        chat = [SystemMessage(f"{SYSTEM} Recommend one candidate in at most two sentences, using only the facts listed."),
                HumanMessage(f"Request: {text}\nConstraints: {', '.join(c.describe() for c in reply.constraints)}\n"
                             "Candidates checked by the tools:\n" + "\n".join(rows))]
        try:
            out = self.model.invoke(chat)  # type: ignore[union-attr]
        except BackboneError as exc:
            return f"(the model did not answer: {exc})"
        return str(out.content).strip()

    def _check(self, constraints: list[Constraint], key: str) -> list[str]:
        """The tools' verdict on one candidate: valid repeat unit, every constraint met (empty: passes)."""
        from agents.taskgen.templates.design import check_design_answer

        valid = json.loads(self.toolbox.tools["validate_polymer"].invoke({"polymer": key}))
        if not (valid.get("ok") and valid["data"].get("valid")):
            return [f"{key} is not a valid repeat unit"]
        ok, reasons = check_design_answer(self.toolbox.view, SimpleNamespace(constraints=constraints), key)  # type: ignore[arg-type]
        return [] if ok else reasons

    def _tool(self, steps: list[Step], skill: Skill, thought: str, name: str, args: dict) -> Any:
        """Run one tool, record the step; its data, or None when it failed (the failure is in the step)."""
        text = str(self.toolbox.tools[name].invoke(args))
        ok, source, shown = read_result(text)
        steps.append(Step(skill=skill, thought=thought, tool_call=ToolCall(name=name, args=args),
                          observation=shown, tool_ok=ok, source=source))
        return json.loads(text).get("data") if ok else None


def _clarify(request: DesignRequest) -> str:
    """What was understood and what was not, and how to ask."""
    parts = []
    if request.understood:
        parts.append(f"Understood: {'; '.join(request.understood)}.")
    if request.not_understood:
        parts.append(f"Not understood: {'; '.join(request.not_understood)}.")
    if not request.understood and not request.not_understood:
        parts.append("I found no design request in that (no property range, group or class).")
    return " ".join([*parts, HELP])
