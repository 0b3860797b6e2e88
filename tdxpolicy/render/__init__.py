"""Renderers: results in, strings (or JSON-able dicts) out. No I/O, no printing.

- :mod:`tdxpolicy.render.text`: text for people (tables, failures first, optional colour);
  show, host, graph, diff, SARIF, GitHub, NFD, Prometheus and JUnit renderers beside it.

The JSON documents of the contracts are built by :mod:`tdxpolicy.codecs` (one module per
schema) and serialised by :func:`tdxpolicy.output.dumps`; :mod:`tdxpolicy.output` says which
renderer serves which result and format.

Submodules import only the standard library and tdxpolicy's value types, so rendering costs
nothing at start-up.
"""
