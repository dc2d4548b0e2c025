"""A scripted chat model for the solver graph's tests (as LangGraph's templates test agents offline).

Its reply depends on the conversation, not on how often it was called: reply i is given to a chat holding i
earlier assistant turns, so a solve resumed from a checkpoint continues the same script.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field


class ScriptedChatModel(BaseChatModel):
    """Replies from a script: strings (text replies) or AIMessages (e.g. with native tool_calls)."""

    script: list[Any]
    delay_s: float = 0.0                     # seconds each reply takes (time-budget tests)
    calls: int = 0
    seen: list[list[BaseMessage]] = Field(default_factory=list)   # the chats it was given, in order

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls += 1
        self.seen.append(list(messages))
        if self.delay_s:
            time.sleep(self.delay_s)
        turn = sum(isinstance(m, AIMessage) for m in messages)
        if turn >= len(self.script):
            raise IndexError(f"the script has {len(self.script)} replies; turn {turn} was asked for")
        item = self.script[turn]
        message = item if isinstance(item, AIMessage) else AIMessage(content=str(item))
        return ChatResult(generations=[ChatGeneration(message=message)])
