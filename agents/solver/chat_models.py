"""The hf: and openai: backbones behind LangChain's chat-model interface, for the solver graph.

`TextChatModel` turns LangChain messages into a plain chat, asks a TextBackbone (agents.solver.backbones:
HFBackbone or OpenAIBackbone) for one greedy reply, and returns it as an AIMessage; the graph's ChatPolicy
reads the `Tool call:` / `Answer:` line from it. For hf: models the reply can be decoded under the reply
grammar (agents.solver.grammar, xgrammar), so a small model can only write a well-formed call or answer.
A server that cannot be reached is a BackboneError (the graph records it as a malformed output).
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from agents.solver.backbones import BackboneError, BackboneSpec, HFBackbone, OpenAIBackbone, TextBackbone
from agents.solver.config import SolverConfig


def plain_chat(messages: list[BaseMessage], tool_role: str = "tool") -> list[dict[str, str]]:
    """LangChain messages as role/content dicts; tool results under `tool_role` ('user' for servers whose
    templates reject a bare tool turn, prefixed so the model still sees it is a tool result)."""
    out = []
    for m in messages:
        content = m.content if isinstance(m.content, str) else str(m.content)
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": content})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": content})
        elif isinstance(m, AIMessage):
            out.append({"role": "assistant", "content": content})
        elif isinstance(m, ToolMessage):
            out.append({"role": tool_role, "content": content if tool_role == "tool" else f"Tool result: {content}"})
        else:
            raise BackboneError(f"cannot send a {type(m).__name__} to a text model")
    return out


class TextChatModel(BaseChatModel):
    """A TextBackbone as a LangChain chat model (one greedy reply per call)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backbone: Any                      # TextBackbone
    max_new_tokens: int = 160
    tool_role: str = "tool"
    constrain: Any = None              # agents.solver.grammar.ReplyConstraint (hf: only)

    @property
    def _llm_type(self) -> str:
        return f"text:{self.backbone.spec.kind}"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        chat = plain_chat(messages, self.tool_role)
        if self.constrain is not None:  # `answer_rule` (from the policy): the task's answer shape
            factory = self.constrain.factory(kwargs.get("answer_rule"))
            text = self.backbone.generate([chat], max_new_tokens=self.max_new_tokens, batch_size=1,
                                          logits_processor_factory=factory)[0]
        else:
            text = self.backbone.generate([chat], max_new_tokens=self.max_new_tokens, batch_size=1)[0]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def chat_model_for(spec: BackboneSpec, config: SolverConfig, tools: list | None = None) -> TextChatModel:
    """The chat model of an hf: or openai: spec; hf: decodes under the reply grammar of `tools` when given."""
    if spec.kind == "openai":
        return TextChatModel(backbone=OpenAIBackbone(spec), max_new_tokens=config.max_new_tokens, tool_role="user")
    if spec.kind != "hf":
        raise BackboneError(f"{spec.text} is not a language-model backbone")
    backbone: TextBackbone = HFBackbone(spec)
    constrain = None
    if config.constrained and tools:
        from agents.solver.grammar import ReplyConstraint

        hf = backbone  # type: ignore[assignment]
        constrain = ReplyConstraint(hf.tokenizer, hf.model.config.vocab_size, tools,  # type: ignore[attr-defined]
                                    thought=config.cot)
    return TextChatModel(backbone=backbone, max_new_tokens=config.max_new_tokens, constrain=constrain)
