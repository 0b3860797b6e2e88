"""Renderers: results in, strings (or JSON-able dicts) out. No I/O, no printing.

- :mod:`tdxpolicy.render.json_out`: the contract's JSON documents (verdict/1, path/1, select/1,
  list/1) and their serialisation.
- :mod:`tdxpolicy.render.text`: text for people (tables, failures first, optional colour).

Submodules import only the standard library and tdxpolicy's value types, so rendering costs
nothing at start-up.
"""
