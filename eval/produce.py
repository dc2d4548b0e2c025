"""Asking one cell's prompts: standalone (batched text generation), tool-augmented (the solver), baselines.

Each producer skips the keys already done, appends one Prediction per prompt as soon as it is scored
(so a killed run loses at most one batch), and reports progress as (done, total).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from agents.answer_text import ReadAnswer, UnparseableAnswer, option_labels, parse_answer, read_answer
from agents.schema import Answer, Task, Trace
from agents.solver.prompts import standalone_messages, task_prompt
from eval.design import DesignJudge
from eval.records import POLYBENCH, Cell, Prediction, error_class, prediction_key
from eval.scorers import Score, score_answer, score_reading
from eval.selection import SUB_SEPARATOR, parent_id
from kb.errors import PolyBenchError

Append = Callable[[Prediction], None]
Progress = Callable[[int, int], None]


class SolverUnavailable(PolyBenchError, RuntimeError):
    """Tool-augmented evaluation needs the solver API (agents.solver.api), which this checkout lacks."""


def benchmark_of(task: Task) -> str:
    return task.generator.removeprefix("external:") if task.generator.startswith("external:") else POLYBENCH


def _skill(task: Task, parents: dict[str, Task]) -> str | None:
    if SUB_SEPARATOR not in task.id:
        return None
    parent = parents.get(parent_id(task.id))
    sub_id = task.id.split(SUB_SEPARATOR, 1)[1]
    return next((s.skill for s in parent.sub_questions if s.id == sub_id), None) if parent else None


def make_prediction(cell: Cell, task: Task, *, prompt: str, raw: str | None, parsed: Answer | None, score: Score,
                    parents: dict[str, Task], trace: Trace | None = None, known_tools: frozenset[str] = frozenset(),
                    source: Literal["asked", "trace"] = "asked", new_tokens: int | None = None, seconds: float | None = None) -> Prediction:
    sub = task.id.split(SUB_SEPARATOR, 1)[1] if SUB_SEPARATOR in task.id else None
    return Prediction(
        key=prediction_key(cell, task.id), cell=cell, benchmark=benchmark_of(task), task_id=task.id,
        parent_id=parent_id(task.id), sub_id=sub, source=source, category=task.category, template=task.template,
        difficulty=task.difficulty, skill=_skill(task, parents), answer_type=task.answer_type, prompt=prompt,
        raw_output=raw, parsed=parsed, score=score, error_class=error_class(score, trace, known_tools),
        tool_calls=trace.tool_calls if trace else 0, tool_errors=trace.tool_errors if trace else 0,
        new_tokens=new_tokens, seconds=seconds)


NO_ANSWER_LINE = "no 'Answer:' line; read from the output's last line"


def read_leniently(output: str, task: Task) -> ReadAnswer:
    """read_answer, and when the output has no 'Answer:' line at all, the last non-empty line read as the
    answer (small models often answer without the line); such readings carry NO_ANSWER_LINE as reason."""
    read = read_answer(output, task)
    if read.status != "unparseable" or read.raw is not None:
        return read
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    if not lines:
        return read
    labels = option_labels(task) if task.answer_type == "choice" else None
    try:
        answer = parse_answer(lines[-1], task.answer_type, labels=labels, default_order=task.params.order)
    except UnparseableAnswer:
        return read
    return ReadAnswer("answered", answer, raw=lines[-1], reason=NO_ANSWER_LINE)


def run_standalone(cell: Cell, tasks: list[Task], backbone, *, done: set[str], append: Append,
                   parents: dict[str, Task], judge: DesignJudge | None, batch_size: int = 8,
                   max_new_tokens: int = 256, progress: Progress | None = None, lenient: bool = False) -> None:
    """Generate for every task not done, in batches of similar prompt length (less padding), and score."""
    todo = [t for t in tasks if prediction_key(cell, t.id) not in done]
    chats = {t.id: standalone_messages(t, cot=cell.cot) for t in todo}
    todo.sort(key=lambda t: (len(task_prompt(t, cot=cell.cot)), t.id))
    total, finished = len(tasks), len(tasks) - len(todo)
    if progress:
        progress(finished, total)
    tokenizer = getattr(backbone, "tokenizer", None)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        began = time.perf_counter()
        outputs = backbone.generate([chats[t.id] for t in batch], max_new_tokens=max_new_tokens,
                                    batch_size=batch_size)
        seconds = (time.perf_counter() - began) / len(batch)
        for task, output in zip(batch, outputs):
            read = read_leniently(output, task) if lenient else read_answer(output, task)
            tokens = len(tokenizer(output, add_special_tokens=False)["input_ids"]) if tokenizer else None
            score = score_reading(task, read, judge)
            if read.reason == NO_ANSWER_LINE:
                score = score.model_copy(update={"note": NO_ANSWER_LINE})
            append(make_prediction(cell, task, prompt=json.dumps(chats[task.id]), raw=output, parsed=read.answer,
                                   score=score, parents=parents, new_tokens=tokens, seconds=seconds))
        finished += len(batch)
        if progress:
            progress(finished, total)


def load_solver(spec: str, kb_dir: Path, *, cot: bool, tool_menu: list[str] | None, max_seconds: float):
    """The solver of contracts (2); SolverUnavailable when agents.solver.api is not in this checkout."""
    try:
        from agents.solver.api import SolverConfig, build_solver
    except ImportError as exc:
        raise SolverUnavailable(f"--mode tools needs agents.solver.api (build_solver, SolverConfig): {exc}") from None
    config = SolverConfig.model_validate({"cot": cot, "tool_menu": tool_menu, "max_seconds": max_seconds})
    return build_solver(spec, Path(kb_dir), config)


def _trace_score(task: Task, trace: Trace, judge: DesignJudge | None) -> Score:
    if trace.outcome in ("budget", "tool_error", "unparseable", "refused"):
        return Score(outcome=trace.outcome, correct=False, note=trace.verification_note)
    return score_answer(task, trace.final_answer, judge)


def run_tools(cell: Cell, tasks: list[Task], solver, *, done: set[str], append: Append, parents: dict[str, Task],
              judge: DesignJudge | None, known_tools: frozenset[str], progress: Progress | None = None) -> None:
    """Solve every main task not done through the solver; sub-answers in the trace are scored per skill."""
    todo = [t for t in tasks if prediction_key(cell, t.id) not in done]
    total, finished = len(tasks), len(tasks) - len(todo)
    if progress:
        progress(finished, total)
    for task in todo:
        began = time.perf_counter()
        trace = solver.solve(task)
        seconds = time.perf_counter() - began
        prompt = task_prompt(task, cot=cell.cot)
        for sub in task.sub_questions:  # sub-answers first: the main key marks the task done
            answered = [s.sub_answer for s in trace.steps if s.sub_question == sub.id and s.sub_answer is not None]
            sub_task = task.model_copy(update={
                "id": f"{task.id}{SUB_SEPARATOR}{sub.id}", "answer_type": sub.gold.type, "gold": sub.gold,
                "sub_questions": [], "difficulty": 1})
            if prediction_key(cell, sub_task.id) in done:
                continue
            parsed = answered[-1] if answered else None
            score = score_answer(sub_task, parsed, judge) if parsed else Score(
                outcome="unparseable", correct=False, note="the trace does not answer this sub-question")
            append(make_prediction(cell, sub_task, prompt=sub.question, raw=parsed.text() if parsed else None,
                                   parsed=parsed, score=score, parents=parents, trace=trace, known_tools=known_tools,
                                   source="trace"))
        score = _trace_score(task, trace, judge)
        append(make_prediction(cell, task, prompt=prompt, raw=trace.raw_final, parsed=trace.final_answer,
                               score=score, parents=parents, trace=trace, known_tools=known_tools, seconds=seconds))
        finished += 1
        if progress:
            progress(finished, total)


def run_baseline(cell: Cell, tasks: list[Task], baseline, *, done: set[str], append: Append,
                 parents: dict[str, Task], judge: DesignJudge | None, progress: Progress | None = None) -> None:
    """A reference baseline (eval.baselines) answering each main task; None answers count as unparseable."""
    todo = [t for t in tasks if prediction_key(cell, t.id) not in done]
    for n, task in enumerate(todo, 1):
        answer = baseline.answer(task)
        append(make_prediction(cell, task, prompt=task_prompt(task, cot=False),
                               raw=answer.text() if answer else None, parsed=answer,
                               score=score_answer(task, answer, judge), parents=parents))
        if progress:
            progress(len(tasks) - len(todo) + n, len(tasks))
