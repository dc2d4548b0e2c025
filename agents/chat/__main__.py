"""Terminal design chat over the whole KB.

    python -m agents.chat --kb .polybench/kb
    echo "a polyimide with Tg above 250 C and no fluorine" | python -m agents.chat --kb .polybench/kb
    python -m agents.chat --kb .polybench/kb --model hf:smollm2      # the local model comments on the answers

Each line is one turn; a follow-up ("now also density below 1.3 g/cm3") refines the previous request.
`--session FILE` keeps the conversation's constraints, so a killed chat resumes. 'quit' or end of input ends.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.chat.session import ChatReply, ChatSession
from agents.solver.backbones import parse_spec
from agents.solver.config import SolverConfig
from kb.config import KBPaths
from kb.errors import PolyBenchError


def render(reply: ChatReply, console: Console, *, show_steps: bool) -> None:
    """One reply: the message, the candidates with evidence and route, and the tool steps if asked."""
    style = {"design": "green", "clarify": "yellow", "refused": "red"}[reply.kind]
    console.print(f"[{style}]{escape(reply.message)}[/{style}]")
    if reply.kind != "design":
        return
    if reply.candidates:
        table = Table(show_lines=True)
        for col in ("#", "polymer", "evidence", "monomers / route"):
            table.add_column(col)
        for c in reply.candidates:
            evidence = "\n".join(f"{e.property} = {e.value:.4g} {e.unit} ({e.basis}, {e.kind}, n={e.n}; {e.sources})"
                                 for e in c.evidence) or "class / group constraints only"
            table.add_row(str(c.rank), escape(f"{c.name or ''}\n{c.key}"), escape(evidence), escape(c.route or "no route found"))
        console.print(table)
    if reply.model_note:
        console.print(f"[cyan]model's comment (not checked):[/cyan] {escape(reply.model_note)}")
    console.print(f"{reply.n_total} KB polymers meet the constraints; {reply.rejected} removed by the checks.")
    if show_steps:
        for i, step in enumerate(reply.steps, 1):
            ok = "ok" if step.tool_ok else "failed"
            console.print(escape(f"  {i}. {step.thought} [{step.tool_call.name if step.tool_call else '-'}: {ok}]"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=Path(".polybench/kb"), help="KB folder")
    parser.add_argument("--limit", type=int, default=5, help="candidates shown per answer")
    parser.add_argument("--session", type=Path, default=None, help="file keeping the conversation (resume)")
    parser.add_argument("--model", default="reasoner",
                        help="reasoner (rules and tools only), hf:<path>[+adapter:<dir>] or openai:<model>@<url>: "
                             "the model comments on the checked candidates")
    parser.add_argument("--steps", action="store_true", help="show the tool steps behind each answer")
    args = parser.parse_args(argv)
    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # an error is one line
    if not KBPaths(args.kb).db.exists():
        err.print(f"error: no KB at {args.kb} (build it with python -m kb.build)")
        return 1
    try:
        spec = parse_spec(args.model)
        model = None
        if spec.kind != "reasoner":
            from agents.solver.chat_models import chat_model_for

            model = chat_model_for(spec, SolverConfig(max_new_tokens=96, constrained=False))
        session = ChatSession(args.kb, limit=args.limit, session_file=args.session, model=model)
    except PolyBenchError as exc:
        err.print(f"error: {exc}")
        return 1
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            console.print("[bold]you>[/bold] ", end="")
        line = sys.stdin.readline()
        if not line or line.strip().lower() in ("quit", "exit"):
            return 0
        if line.strip():
            render(session.ask(line.strip()), console, show_steps=args.steps)


if __name__ == "__main__":
    raise SystemExit(main())
