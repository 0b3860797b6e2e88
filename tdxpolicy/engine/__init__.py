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

from typing import TYPE_CHECKING, Any

from .checks import CHECK_ORDER, decide

if TYPE_CHECKING:  # pragma: no cover
    from .plan import decide_each, plan, select

__all__ = ["decide", "decide_each", "plan", "select", "CHECK_ORDER"]


def __getattr__(name: str) -> Any:
    # The search (plan.py) is imported only by the commands that search: `can-upgrade` decides
    # one move and does not pay for it (start-up budget, bench/bench_startup.py).
    if name in ("plan", "select", "decide_each"):
        import importlib

        module = importlib.import_module(f"{__name__}.plan")
        # Importing the submodule binds the name `plan` to it; the package's `plan` is the
        # function, as before: bind the three functions over it.
        g = globals()
        for fn in ("plan", "select", "decide_each"):
            g[fn] = getattr(module, fn)
        return g[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
