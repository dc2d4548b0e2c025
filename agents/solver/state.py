"""The typed state of the solver graph (one task, one attempt) and the moves a policy can make."""

from __future__ import annotations

from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from agents.schema import Answer, Step, Task, Trace

Stop = Literal["answered", "budget", "unparseable", "tool_error", "refused"]


class Move(BaseModel):
    """What the policy decided at one turn: call a tool, answer, or an output that could not be read."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["tool", "answer", "malformed"]
    step: Step | None = None                 # tool: the step whose tool_call the graph runs
    raw: str | None = None                   # the model's text (answer: after 'Answer:' ; malformed: all of it)
    answer: Answer | None = None             # answer: the parsed answer (None with refused)
    refused: bool = False
    closing_steps: list[Step] = []           # answer: reasoning steps without tool calls (the reasoner's Final)
    note: str | None = None                  # malformed: why it could not be read; answer: the policy's note


class SolverState(TypedDict, total=False):
    """Everything one solve carries between nodes; checkpointed after every node."""

    task: Task
    plan: list[str]                          # one line per sub-question (or the question itself)
    messages: list[dict[str, str]]           # the chat an LLM backbone sees (role, content); the reasoner ignores it
    steps: list[Step]                        # done steps, in order
    pending: Move | None                     # the policy's last move, not yet acted on
    answer: Answer | None
    raw_final: str | None
    malformed: list[str]                     # raw outputs that could not be read
    revisions: int                           # answers sent back by verification
    turns: int                               # policy decisions so far (the step budget)
    tool_calls: int
    tool_errors: int
    seconds: float                           # working time so far (summed over nodes, so resumes are fair)
    stop: Stop | None
    verified: bool
    verification_note: str | None
    trace: Trace | None                      # set by the final node
