"""Chats -> token ids with labels on assistant tokens only (prompts and tool observations masked with -100).

The chat is rendered with the model's own template one turn at a time: the text a turn adds is its rendering
given the turns before it. An assistant turn's prefix is the template's generation prompt (what the model is
given at inference, masked); its content and the template's end-of-turn token are the target; whatever the
template writes after that (a newline) is masked again. This works for any template whose rendering of a
chat extends the rendering of the chat's first turns (ChatML, Qwen, Llama 3), and says so when one does not.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


class TemplateError(ValueError):
    """A chat template whose renderings of successive turns are not prefixes of each other."""


@dataclass(frozen=True)
class TokenizedChat:
    """Token ids and labels (a copy of the ids on target tokens, -100 elsewhere) of one chat."""

    input_ids: list[int]
    labels: list[int]

    @property
    def targets(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def _render(tokenizer, messages, *, generation_prompt: bool) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def chat_segments(tokenizer, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """The chat's text cut into (piece, is_target) segments whose concatenation is the full rendering."""
    segments: list[tuple[str, bool]] = []
    done = ""
    eos = tokenizer.eos_token or ""
    for i, message in enumerate(messages):
        full = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if not full.startswith(done):
            raise TemplateError(f"the chat template re-renders earlier turns when turn {i} ({message['role']}) "
                                "is added; assistant-only masks need a prefix-stable template")
        if message["role"] != "assistant":
            segments.append((full[len(done):], False))
            done = full
            continue
        prompted = _render(tokenizer, messages[:i], generation_prompt=True)
        if not prompted.startswith(done) or not full.startswith(prompted):
            raise TemplateError(f"turn {i}: the generation prompt is not a prefix of the assistant turn")
        segments.append((prompted[len(done):], False))
        body = full[len(prompted):]
        end = body.find(eos, len(message["content"])) if eos else -1
        cut = end + len(eos) if end >= 0 else len(body)
        segments.append((body[:cut], True))
        if body[cut:]:
            segments.append((body[cut:], False))
        done = full
    return [(text, target) for text, target in segments if text]


def tokenize_chat(tokenizer, messages: list[dict[str, str]]) -> TokenizedChat:
    """Ids and assistant-only labels of one chat (no special tokens beyond what the template writes)."""
    ids: list[int] = []
    labels: list[int] = []
    for text, target in chat_segments(tokenizer, messages):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if target else [IGNORE] * len(piece)
    return TokenizedChat(ids, labels)
