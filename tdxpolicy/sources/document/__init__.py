"""Policy documents (``.tdxpolicy``): bytes -> text -> parse tree -> :class:`PolicyDocument`.

- :mod:`.decode`: bytes -> text (strict UTF-8, LF line ends, no BOM, no NUL, a size limit);
- :mod:`.syntax`: the lark parser of ``grammars/policy.lark`` (built once, lazily, from shipped
  tables when they match) and syntax errors in words (policy-format.md, "Errors");
- :mod:`.build`: parse tree -> model values, checking each value's exact shape after the parse;
- :mod:`.parse`: the road through the three (:func:`parse_document`, :func:`read_document`).

Errors are :class:`~tdxpolicy.errors.InputError` with one :class:`~tdxpolicy.errors.Problem`
per mistake, each located (``file:line:column``) and carrying the offending line for the
caret. A document either parses completely or raises: nothing is half-loaded.

What this package leaves to others: merging documents (:mod:`tdxpolicy.catalogue`), Intel's
JSON and Markdown sources (:mod:`tdxpolicy.sources.intel`), finding files
(:mod:`tdxpolicy.sources`), and warnings that do not make a document invalid
(:mod:`tdxpolicy.lint`).
"""

from __future__ import annotations

from .build import FORMAT_VERSION
from .decode import MAX_DOCUMENT_BYTES, decode_document, looks_like_document
from .parse import parse_document, read_document
from .syntax import DOCUMENT_KEYWORDS, PARSER_TABLES, RELEASE_KEYWORDS, build_parser_tables

# The parser and its options by their old names: tests/test_parser_tables.py clears the cache
# of _parser and builds its oracle parser with _PARSER_OPTIONS.
from .syntax import _PARSER_OPTIONS as _PARSER_OPTIONS
from .syntax import _parser as _parser

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "FORMAT_VERSION",
    "DOCUMENT_KEYWORDS",
    "RELEASE_KEYWORDS",
    "PARSER_TABLES",
    "build_parser_tables",
    "decode_document",
    "parse_document",
    "read_document",
    "looks_like_document",
]
