"""Category 5, advanced reasoning: constraint filters, gas-separation trade-offs, matched-pair structure
effects and thresholds stated in another unit.

Golds are the split's measured medians (agents.taskgen.lookup). No decision rests on noise: every value lies at
least one tolerance away from any threshold it is tested against, and every compared pair is clearly
different (GAP_FACTOR tolerances; selectivities, a ratio of two log-scale values, in decades). The
per-pool look-ups (values by polymer, permeability pairs, matched pairs) are built once per Pools object
and cached on it, so a draw costs microseconds.

One module per template: constraint_filter, gas_tradeoff, structure_change, unit_threshold; the per-pool
look-ups, wording and threshold helpers they share are in common. Importing the package registers all four.
"""

from agents.taskgen.templates.reasoning import (
    constraint_filter,
    gas_tradeoff,
    structure_change,
    unit_threshold,
)

__all__ = ["constraint_filter", "gas_tradeoff", "structure_change", "unit_threshold"]
