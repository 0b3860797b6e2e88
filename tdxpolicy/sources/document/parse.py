"""The whole road of a policy document: bytes -> text (:mod:`.decode`) -> parse tree
(:mod:`.syntax`) -> :class:`~tdxpolicy.model.PolicyDocument` (:mod:`.build`). A document
either parses completely or raises: nothing is half-loaded."""

from __future__ import annotations

import gc as _gc

from ...errors import InputError
from ...model import Location, PolicyDocument
from .build import FORMAT_VERSION, Builder
from .decode import MAX_DOCUMENT_BYTES, check_text, decode_document
from .syntax import _parser, raise_syntax_error

__all__ = ["read_document", "parse_document"]


def read_document(data: bytes, file: str, *, embedded: bool = False) -> PolicyDocument:
    """Decode and parse a document's bytes."""
    # decode_document has made every check parse_document makes on text.
    return _parse_checked(decode_document(data, file), file, embedded)


def parse_document(text: str, file: str, *, embedded: bool = False) -> PolicyDocument:
    """Parse one policy document; raise :class:`InputError` with every located problem."""
    check_text(text, file)
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        decode_document(text.encode("utf-8"), file)  # raises the size error
    return _parse_checked(text, file, embedded)


def _parse_checked(text: str, file: str, embedded: bool) -> PolicyDocument:
    lines = text.split("\n")
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        what = "empty file" if not text.strip() else "no statements, only comments"
        raise InputError.at(
            f"{what}: a policy document starts with 'format {FORMAT_VERSION}'",
            Location(file, 1, 1),
            lines[0] if text.strip() else None,
        )
    # The grammar ends every statement with a newline; a last line without one is fine.
    source = text if text.endswith("\n") else text + "\n"
    # Parsing allocates hundreds of thousands of small objects and frees none of them until
    # the end: the cyclic GC would run dozens of full collections over the growing tree for
    # nothing (about half the time of a large document). Paused here, restored on the way out.
    gc_was_enabled = _gc.isenabled()
    _gc.disable()
    try:
        from lark.exceptions import UnexpectedInput

        try:
            tree = _parser().parse(source)
        except UnexpectedInput as e:
            raise_syntax_error(e, text, lines, file)
        builder = Builder(file, lines, embedded)
        return builder.build(tree)
    finally:
        if gc_was_enabled:
            _gc.enable()
