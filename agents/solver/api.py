"""The solver API: `build_solver(spec, kb_dir, config) -> Solver`; `Solver.solve(task) -> Trace`.

    solver = build_solver("reasoner", Path(".polybench/kb"), SolverConfig())
    trace = solver.solve(task)                  # never raises on model / tool failures
    traces = solver.solve_many(tasks, progress=lambda done, total: ...)

A task of split S is solved through KBView.for_split(kb_dir, S) (with hide_own_values, KBView.for_task: the
view that also hides the measured values of the task's own polymers). With
`config.checkpoint_db` every node's state is saved in SQLite under thread id = task id: solving the same
task again resumes an interrupted run, or returns the finished trace.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

from langchain_core.language_models import BaseChatModel
from langgraph.errors import GraphRecursionError

from agents.schema import Task, Trace
from agents.solver.backbones import BackboneError, parse_spec
from agents.solver.config import SolverConfig
from agents.solver.graph import SolveContext, build_graph
from agents.solver.policy import ChatPolicy, Policy, ReasonerPolicy, ToolBox
from tools.estimate import EstimateContext
from tools.kb_view import KBView
from tools.langchain_tools import build_tools

# Types stored in checkpoints (LangGraph refuses unregistered types when reading them back).
CHECKPOINT_TYPES = [("agents.schema", n) for n in ("Task", "Answer", "Step", "ToolCall", "Trace", "SubQuestion",
                                                   "TaskParams", "PolymerRef", "QuotedValue")] + \
                   [("tools.schema", "Constraint"), ("agents.solver.state", "Move")]


def checkpointer_for(db: Path) -> tuple[Any, sqlite3.Connection]:
    """A SqliteSaver on `db` that reads back our record types, and its connection (caller closes it)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    Path(db).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db), check_same_thread=False)
    return SqliteSaver(con, serde=JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)), con


class Solver:
    """A policy over the solver graph with the tools of each task's split."""

    def __init__(self, kb_dir: Path, policy: Policy, config: SolverConfig, model_name: str) -> None:
        self.kb_dir = Path(kb_dir)
        self.policy = policy
        self.config = config
        self.model_name = model_name
        self._toolboxes: dict[str, ToolBox] = {}
        self._graph: Any = None                  # compiled once (with its checkpointer, if any)
        self._con: sqlite3.Connection | None = None

    def graph(self) -> Any:
        """The compiled solver graph of this solver (its SQLite checkpointer opened once)."""
        if self._graph is None:
            saver = None
            if self.config.checkpoint_db is not None:
                saver, self._con = checkpointer_for(self.config.checkpoint_db)
            self._graph = build_graph(saver)
        return self._graph

    def close(self) -> None:
        """Close the checkpoint database (the solver can be used again; it reopens it)."""
        if self._con is not None:
            self._con.close()
        self._con, self._graph = None, None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def toolbox(self, view: KBView) -> ToolBox:
        """The tools of one view (restricted to config.tool_menu): built once per split view; a per-task view
        (a hidden polymer set) gets fresh tools sharing the split view's loaded surrogate models."""
        hidden: frozenset[int] = view.hidden_polymer_ids
        key = ",".join(sorted(view.hidden_splits))
        if not hidden and key in self._toolboxes:
            return self._toolboxes[key]
        if hidden:
            base = self.toolbox(view.base())
            ctx = base.estimate_ctx.for_view(view)
        else:
            ctx = EstimateContext(view)
        tools = {t.name: t for t in build_tools(view, ctx)}
        if self.config.tool_menu is not None:
            unknown = sorted(set(self.config.tool_menu) - set(tools))
            if unknown:
                raise BackboneError(f"tool_menu names unknown tools {unknown}; tools are {sorted(tools)}")
            tools = {n: t for n, t in tools.items() if n in self.config.tool_menu}
        box = ToolBox(view, ctx, tools)
        if not hidden:
            self._toolboxes[key] = box
        return box

    def view_for(self, task: Task, hide_own_values: bool) -> KBView:
        """The view a task may use: its split's, and with hide_own_values also blind to its own polymers; a chat
        request (split "chat") sees the whole KB."""
        if task.is_request:
            return KBView(self.kb_dir)
        if not hide_own_values:
            return KBView.for_split(self.kb_dir, task.split)
        return KBView.for_task(self.kb_dir, task, hide_own=True)

    def solve(self, task: Task, *, hide_own_values: bool = False, view: KBView | None = None) -> Trace:
        """One attempt at a task; budgets, malformed outputs and tool failures end in an honest Trace."""
        toolbox = self.toolbox(view if view is not None else self.view_for(task, hide_own_values))
        context = SolveContext(self.policy, toolbox, self.config, self.model_name)
        run_config = {"recursion_limit": self.config.graph_recursion_limit(),
                      "configurable": {"thread_id": task.id}}
        graph = self.graph()
        start: dict | None = {"task": task}
        if self.config.checkpoint_db is not None:
            saved = graph.get_state(run_config)
            done = saved.values.get("trace")
            if done is not None and not saved.next and done.model == self.model_name:
                return done   # finished before (by this model): nothing to redo
            if saved.next:
                start = None   # resume from the last saved node
        return self._run(graph, start, run_config, context, task)

    def _run(self, graph: Any, start: dict | None, run_config: dict, context: SolveContext, task: Task) -> Trace:
        try:
            return graph.invoke(start, run_config, context=context)["trace"]
        except GraphRecursionError:  # budgets normally end a run first; the limit is the last guard
            last = graph.get_state(run_config).values if self.config.checkpoint_db is not None else {}
            return Trace(task_id=task.id, model=self.model_name, steps=last.get("steps", []), outcome="budget",
                         malformed_outputs=last.get("malformed", []), tool_calls=last.get("tool_calls", 0),
                         tool_errors=last.get("tool_errors", 0), seconds=round(last.get("seconds", 0.0), 3),
                         verification_note=f"recursion limit {run_config['recursion_limit']} reached")

    def solve_many(self, tasks: Iterable[Task], progress: Callable[[int, int], None] | None = None) -> list[Trace]:
        """Solve tasks in order; `progress(done, total)` after each."""
        items = list(tasks)
        traces = []
        for i, task in enumerate(items, 1):
            traces.append(self.solve(task))
            if progress is not None:
                progress(i, len(items))
        return traces


def build_solver(spec: str, kb_dir: Path, config: SolverConfig | None = None, *,
                 chat_model: BaseChatModel | None = None) -> Solver:
    """The solver of a model spec (reasoner, hf:..., openai:...); `chat_model` overrides the spec's model."""
    config = config or SolverConfig()
    if chat_model is not None:
        return Solver(kb_dir, ChatPolicy(chat_model, name=spec), config, spec)
    parsed = parse_spec(spec)
    if parsed.kind == "reasoner":
        return Solver(kb_dir, ReasonerPolicy(), config, parsed.text)
    from agents.solver.chat_models import chat_model_for

    solver = Solver(kb_dir, ChatPolicy(None, name=parsed.text), config, parsed.text)  # type: ignore[arg-type]
    tools = list(solver.toolbox(KBView.for_split(kb_dir, "train")).tools.values())  # schemas for the grammar
    solver.policy = ChatPolicy(chat_model_for(parsed, config, tools), name=parsed.text)
    return solver
