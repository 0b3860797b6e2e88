"""The decision engine: may a host move from its running TDX module R to a target T?

Pure: everything comes from a :class:`~tdxpolicy.catalogue.Catalogue` (what the policy
sources say about releases), :class:`~tdxpolicy.hostfacts.HostFacts` (what is known about the
host) and :class:`~tdxpolicy.verdict.MoveOptions` (how strictly to judge). No file, sysfs,
clock or print; the CLI passes ``options.today`` for document expiry. Answers are data:
a denied move is a :class:`~tdxpolicy.verdict.Verdict` with every check listed.

- :func:`decide` — one move R -> T, every check of the CLI contract (``checks.py``).
- :func:`plan` — the shortest sequence of permitted hops R -> ... -> T within the budget
  (``plan.py``).
- :func:`select` — the newest release reachable, with every candidate (``plan.py``).
- :func:`decide_each` — every release with its verdict, one at a time (``plan.py``).

The rules are those of ``docs/domain.md#move-rules`` (quoted where each check is computed);
``docs/engine.md`` lists every check with its rule, source and an example verdict.
"""

from __future__ import annotations

from .checks import CHECK_ORDER, decide
from .plan import decide_each, plan, select

__all__ = ["decide", "decide_each", "plan", "select", "CHECK_ORDER"]
