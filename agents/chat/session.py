"""A multi-turn design chat on the solver graph, over the whole KB.

Each turn: the rule-based request parser reads the message (a follow-up refines the previous constraints;
SQL is refused; nonsense, an unknown property or an impossible range get a clarification), then the turn is
built as a gold-less design Task (agents.chat.task: split "chat") and solved by the same LangGraph solver
graph the benchmark uses (`build_solver(spec, ...)`, plan -> tools -> compose -> verify -> bounded revise,
with its budgets and honest outcomes, checkpointed in SQLite under thread id <session>-t<turn>-<hash>). The
graph's verified answer is candidate #1; more candidates come from find_polymers, each checked by the tools
(validate_polymer + every constraint) before it is shown, with evidence (measured with sources, or estimated
with interval and applicability domain), monomers and route. The steps shown are the trace's steps.

With an LLM backbone (hf:, openai:) the model drives the graph; when its answer fails verification or it
ends without one (budget, unparseable, tool errors), the reply says so and falls back to the reasoner's
answer, labelled as such. The library returns `ChatReply` values; `python -m agents.chat` renders them. With a
session file the conversation (id, turn, constraints) is saved after every turn, so a killed chat resumes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel

from agents.chat.evidence import Candidate, Evidence, build_candidate, shortlist
from agents.chat.request import DesignRequest, merge, parse_request
from agents.chat.task import request_id, request_task
from agents.files import atomic_write_text
from agents.schema import Step, Task, Trace
from agents.solver.api import Solver, build_solver
from agents.solver.config import SolverConfig
from tools.kb_view import KBView
from tools.langchain_tools import build_tools
from tools.schema import Constraint

__all__ = ["HELP", "Candidate", "ChatReply", "ChatSession", "Evidence"]

HELP = ("Ask for a polymer in words, e.g. 'a polyimide with Tg above 250 °C and no fluorine'; refine with "
        "'now also density below 1.3 g/cm3'. I read property ranges (KB properties, any unit of the "
        "property), groups ('no fluorine', 'containing ester'), and classes ('polyester').")


@dataclass
class ChatReply:
    """What one turn answered: a design (candidates), a clarification, or a refusal, in values."""

    kind: Literal["design", "clarify", "refused"]
    request: DesignRequest
    constraints: list[Constraint]
    candidates: list[Candidate] = field(default_factory=list)
    rejected: int = 0                       # shortlisted polymers the tools' checks removed
    n_total: int = 0                        # KB polymers meeting the constraints (find_polymers)
    message: str = ""
    trace: Trace | None = None              # the graph's trace with the backbone asked for
    fallback: Trace | None = None           # the reasoner's trace, when the backbone's answer was not verified
    answered_by: str | None = None          # who found candidate #1: the backbone, or "reasoner (fallback)"
    unverified: Candidate | None = None     # the backbone's own answer that failed the checks (never a candidate)

    @property
    def steps(self) -> list[Step]:
        """The reasoning steps behind candidate #1: the trace whose answer it is."""
        shown = self.fallback if self.fallback is not None else self.trace
        return list(shown.steps) if shown is not None else []


def graded(trace: Trace) -> Trace:
    """The trace with a design outcome: an answer the verify node checked is solved, any other answer wrong."""
    if trace.outcome is not None or trace.final_answer is None:
        return trace
    return trace.model_copy(update={"outcome": "solved" if trace.verified else "wrong"})


class ChatSession:
    """One conversation: the constraints so far, the solver graph on the whole KB, an optional session file."""

    def __init__(self, kb_dir: Path, *, model: str = "reasoner", config: SolverConfig | None = None,
                 limit: int = 5, session_file: Path | None = None, session_id: str | None = None,
                 chat_model: BaseChatModel | None = None) -> None:
        self.kb_dir = Path(kb_dir)
        self.view = KBView(self.kb_dir)       # the chat sees the whole KB: no split is hidden
        self.session_file = Path(session_file) if session_file else None
        saved = json.loads(self.session_file.read_text()) if self.session_file and self.session_file.exists() else {}
        self.session_id: str = saved.get("session_id") or session_id or f"chat-{uuid.uuid4().hex[:12]}"
        self.turn: int = int(saved.get("turn", 0))
        self.constraints = [Constraint.model_validate(c) for c in saved.get("constraints", [])]
        config = config or SolverConfig()
        if self.session_file and config.checkpoint_db is None:  # the graph's checkpoints beside the session
            config = config.model_copy(update={"checkpoint_db": self.session_file.with_suffix(".checkpoints.sqlite")})
        self.config = config
        self.spec = model
        self.solver: Solver = build_solver(model, self.kb_dir, config, chat_model=chat_model)
        self._fallback: Solver | None = None
        self.limit = limit
        box = self.solver.toolbox(self.view)  # every tool for the candidates, whatever the model's menu
        self.tools = {t.name: t for t in build_tools(self.view, box.estimate_ctx)}

    def ask(self, text: str) -> ChatReply:
        """Answer one message (a request, a follow-up refining the previous one, or something else)."""
        request = parse_request(text)
        if request.sql:
            return ChatReply("refused", request, self.constraints, message="; ".join(request.not_understood))
        if not request.usable:
            return ChatReply("clarify", request, self.constraints, message=_clarify(request))
        constraints = merge(self.constraints, request.constraints) if request.follow_up else request.constraints
        self.turn += 1
        reply = self.solve(request_task(constraints, request_id(self.session_id, self.turn, constraints)), request)
        self.constraints = constraints
        self.save()
        return reply

    def solve(self, task: Task, request: DesignRequest) -> ChatReply:
        """The graph's answer to the request task (the reasoner's, labelled, when the backbone's fails), then
        more candidates from the shortlist, each checked by the tools."""
        constraints = list(task.constraints)
        trace = graded(self.solver.solve(task, view=self.view))
        reply = ChatReply("design", request, constraints, trace=trace, answered_by=self.spec)
        answer = trace
        if trace.final_answer is not None and not trace.verified:  # shown apart, with why it failed
            reply.unverified = build_candidate(self.view, self.tools, constraints, trace.final_answer.polymer or "", 0)
        if not trace.verified and self.spec != "reasoner":
            fallback = graded(self.fallback_solver().solve(task.model_copy(update={"id": f"{task.id}-reasoner"}),
                                                           view=self.view))
            reply.fallback, reply.answered_by, answer = fallback, "reasoner (fallback)", fallback
        first = answer.final_answer.polymer if answer.verified and answer.final_answer else None
        keys, reply.n_total, error = shortlist(self.tools, constraints, self.limit * 2)
        if first is not None:
            for key in [first, *(k for k in keys if k != first)]:
                if len(reply.candidates) >= self.limit:
                    break
                candidate = build_candidate(self.view, self.tools, constraints, key, len(reply.candidates) + 1)
                if candidate.problems:
                    reply.rejected += 1
                    continue
                reply.candidates.append(candidate)
        reply.message = _message(reply, trace, error)
        return reply

    def fallback_solver(self) -> Solver:
        """The reasoner on the same graph and checkpoints, with the solver's default budgets (a small model's
        tight budgets must not starve it), built on first use."""
        if self._fallback is None:
            config = SolverConfig(checkpoint_db=self.config.checkpoint_db)
            self._fallback = build_solver("reasoner", self.kb_dir, config)
        return self._fallback

    def save(self) -> None:
        """Write the conversation (id, turn, constraints) atomically, when there is a session file."""
        if self.session_file:
            atomic_write_text(self.session_file, json.dumps(
                {"session_id": self.session_id, "turn": self.turn,
                 "constraints": [c.model_dump(exclude_none=True) for c in self.constraints]}))

    def close(self) -> None:
        """Close the checkpoint databases."""
        for solver in (self.solver, self._fallback):
            if solver is not None:
                solver.close()


def _message(reply: ChatReply, trace: Trace, error: str | None) -> str:
    """What the turn found, in words: how the backbone's attempt ended, and the candidates or why none."""
    wanted = ", ".join(c.describe() for c in reply.constraints)
    parts = []
    if reply.fallback is not None:
        how = f"answered {trace.final_answer.text()} but the tools' check failed" if trace.final_answer else \
            f"gave no answer ({trace.outcome})"
        parts.append(f"The model {trace.model} {how}: {trace.verification_note}. Showing the reasoner's answer "
                     "instead (fallback).")
    if reply.candidates:
        parts.append(f"{len(reply.candidates)} candidate(s) meeting {wanted}, checked by the tools.")
    else:
        shown = reply.fallback or trace
        why = error or shown.verification_note or shown.outcome
        parts.append(f"no KB polymer meets {wanted} ({why}); loosen a constraint")
    return " ".join(parts)


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
