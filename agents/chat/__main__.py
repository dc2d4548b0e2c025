"""Terminal design chat on the solver graph, over the whole KB.

    python -m agents.chat --kb .polybench/kb
    python -m agents.chat --kb .polybench/kb --ask "a polyimide with Tg above 250 C and no fluorine" --steps
    echo "a polymer with Tg above 400 K" | python -m agents.chat --kb .polybench/kb
    python -m agents.chat --kb .polybench/kb --model hf:smollm2      # the local model drives the graph

Each line is one turn; a follow-up ("now also density below 1.3 g/cm3") refines the previous request.
`--session FILE` keeps the conversation (and the graph's checkpoints beside it), so a killed chat resumes.
'quit' or end of input ends.
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
            evidence = "\n".join([*(e.text() for e in c.evidence), *c.notes]) or "class / group constraints only"
            table.add_row(str(c.rank), escape(f"{c.name or ''}\n{c.key}"), escape(evidence), escape(c.route or "no route found"))
        console.print(table)
        console.print(f"#1 found by {reply.answered_by}; {reply.n_total} KB polymers meet the constraints; "
                      f"{reply.rejected} removed by the checks.")
    if reply.unverified is not None:
        u = reply.unverified
        console.print(escape(f"Not shown as a candidate, the model's own answer {u.key} failed the checks: "
                             + "; ".join([*u.problems, *(e.text() for e in u.evidence)])))
    if show_steps:
        for i, step in enumerate(reply.steps, 1):
            tool = f" [{step.tool_call.name}: {'ok' if step.tool_ok else 'failed'}]" if step.tool_call else ""
            console.print(escape(f"  {i}. {step.thought}{tool}" + (f" -> {step.conclusion}" if step.conclusion else "")))

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=Path(".polybench/kb"), help="KB folder")
    parser.add_argument("--limit", type=int, default=5, help="candidates shown per answer")
    parser.add_argument("--session", type=Path, default=None, help="file keeping the conversation (resume)")
    parser.add_argument("--model", default="reasoner",
                        help="the backbone driving the solver graph: reasoner (rules and tools, no LLM), "
                             "hf:<path>[+adapter:<dir>] or openai:<model>@<url>")
    parser.add_argument("--max-steps", type=int, default=None, help="decisions per turn (default: the solver's)")
    parser.add_argument("--steps", action="store_true", help="show the reasoning steps behind each answer")
    parser.add_argument("--ask", default=None, help="answer this one message and exit (no conversation loop)")
    args = parser.parse_args(argv)
    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # an error is one line
    if not KBPaths(args.kb).db.exists():
        err.print(f"error: no KB at {args.kb} (build it with python -m kb.build)")
        return 1
    try:
        spec = parse_spec(args.model)
        small = {} if spec.kind == "reasoner" else {"max_steps": 12, "max_new_tokens": 96}  # a turn in minutes on CPU
        config = SolverConfig(**{**small, **({"max_steps": args.max_steps} if args.max_steps else {})})
        session = ChatSession(args.kb, model=spec.text, config=config, limit=args.limit, session_file=args.session)
    except (PolyBenchError, ValueError) as exc:
        err.print(f"error: {exc}")
        return 1
    interactive = sys.stdin.isatty()
    try:
        if args.ask is not None:
            render(session.ask(args.ask), console, show_steps=args.steps)
            return 0
        while True:
            if interactive:
                console.print("[bold]you>[/bold] ", end="")
            line = sys.stdin.readline()
            if not line or line.strip().lower() in ("quit", "exit"):
                return 0
            if line.strip():
                render(session.ask(line.strip()), console, show_steps=args.steps)
    finally:
        session.close()


if __name__ == "__main__":
    raise SystemExit(main())
