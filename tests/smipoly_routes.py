"""Helpers shared by the conceptual and design template tests: what SMiPoly's reactions make, and the
monomers a question's option text names."""

from __future__ import annotations

from functools import cache

from kb.errors import PolyBenchError
from kb.repeat_unit import to_repeat_unit
from tools.synthesis import forward_polymer


@cache
def made(monomers: tuple[str, ...], pclass: str) -> frozenset[str]:
    """Canonical keys SMiPoly's reactions make from these monomers by this class (empty when none)."""
    try:
        return frozenset(to_repeat_unit(u).key for u in forward_polymer(list(monomers), pclass))
    except PolyBenchError:
        return frozenset()


def monomers_in(text: str) -> tuple[str, ...]:
    """The monomer SMILES of 'name (SMILES) + SMILES' or 'name (SMILES) alone' (SMILES hold no spaces)."""
    parts = text.removesuffix(" alone").split(" + ")
    return tuple(p[p.rindex(" (") + 2:-1] if p.endswith(")") and " (" in p else p for p in parts)
