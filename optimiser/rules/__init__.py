"""One module per rule family; each appends its rows to a Block.

`add_customer_rules` builds everything that lives inside one customer
(candidate choice, dedup, caps, gaps, exclusions around other sends);
`add_global_rules` adds the rows that couple customers (capacity, budget,
volume). The order of families is fixed so that models are reproducible.
"""

from __future__ import annotations

from models.rules import AroundExclusion, FrequencyCap, MinGap, NeverTogether
from optimiser.block import Block
from optimiser.rules import candidates, conflicts, frequency, global_rules
from optimiser.rules.context import BuildContext


def add_customer_rules(block: Block, ctx: BuildContext) -> None:
    candidates.add_rows(block, ctx)
    for rule in ctx.scenario.customer_rules:
        if isinstance(rule, (FrequencyCap, NeverTogether)):
            frequency.add_rows(block, rule, ctx)
        elif isinstance(rule, (MinGap, AroundExclusion)):
            conflicts.add_rows(block, rule, ctx)
        # StateExclusion and CustomerExclusion are settled entirely by the pre-filter


def add_global_rules(block: Block, ctx: BuildContext) -> None:
    block.finish_links()
    global_rules.add_rows(block, ctx)


__all__ = ["BuildContext", "add_customer_rules", "add_global_rules"]
