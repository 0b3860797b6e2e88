"""One way out for every result: a result, a format, a stream (docs/cli.md#output).

Every command's answer leaves through :func:`emit`::

    from tdxpolicy.output import emit, open_output

    with open_output(path_or_dash) as sink:      # stdout, or FILE written atomically
        emit(verdict, "json", sink)

- A **result** is any value the library returns (a :class:`~tdxpolicy.verdict.Verdict`, a
  :class:`~tdxpolicy.graph.VersionGraph`, a :class:`~tdxpolicy.host.probe.ProbeResult`, ...).
- A **format** is a word (``text``, ``json``, ``dot``, ...). :data:`RENDERERS` says, per result
  type, which function renders each format; the CLI's ``--format`` choices are the formats
  registered for the command's result.
- A **sink** is where it goes (:func:`open_output`): stdout, or a file written atomically
  (a temporary file in the same directory, renamed over the target only when the command
  completes; nothing is left behind on an error).

Adding a format: write a pure function ``f(result, style) -> str`` (text) or
``f(result) -> JSON-able`` (a document, written by :func:`dumps`; kind :data:`DOC`, or
:data:`LINE` for one compact line) in its own module, add one
line to :data:`RENDERERS` (or call :func:`register`), and add the word to the command's format
enum in ``tdxpolicy/cli/options.py``. Renderer modules are imported only when their format is
chosen (start-up budget, bench/bench_startup.py).

Text style (:class:`Style`) is decided once, here: colour per :func:`color_enabled`
(``NO_COLOR``, ``FORCE_COLOR``, ``TERM=dumb``, a terminal) and the width to wrap to per
:func:`wrap_width` (a terminal, or ``COLUMNS``; never a file).

JSON: one :func:`dumps` for every document and line this package writes. Text is kept readable
(``ensure_ascii=False``) and is always valid UTF-8: a lone surrogate (a file name with bytes
that are not UTF-8, as Python decodes them) is written as its ``\\uXXXX`` escape.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from ._value import value

__all__ = [
    "Style",
    "Sink",
    "RENDERERS",
    "register",
    "formats_for",
    "render",
    "emit",
    "dumps",
    "json_for",
    "open_output",
    "check_output",
    "color_enabled",
    "wrap_width",
]

#: A text renderer: ``f(result, style) -> str``.
TEXT = "text"
#: A document renderer: ``f(result) -> JSON-able``; :func:`emit` writes it with :func:`dumps`.
DOC = "doc"
#: As :data:`DOC`, written compact on one line (a JSON Lines record, a summary on stderr).
LINE = "line"
#: A streaming renderer: ``f(result, write, style) -> None`` writes text as it is produced
#: (``list`` decides one release at a time and keeps no verdict: docs/performance.md).
STREAM = "stream"
#: As :data:`STREAM`, for JSON text (ASCII-escaped for a stream that needs it).
JSON_STREAM = "json-stream"

# result type ("module.QualName") -> format -> ("module:function", kind). The type is named,
# not imported, so that this table costs nothing to load; a renderer's module is imported only
# when that format is chosen. Subclasses find their base's renderers (the MRO is walked).
RENDERERS: dict[str, dict[str, tuple[str, str]]] = {
    "tdxpolicy.verdict.Verdict": {
        "text": ("tdxpolicy.render.text:verdict_text", TEXT),
        "json": ("tdxpolicy.codecs.verdict:to_json", DOC),
        "junit": ("tdxpolicy.render.export_formats:verdict_junit", TEXT),
    },
    "tdxpolicy.commands.exports.FleetRows": {
        "junit": ("tdxpolicy.render.export_formats:fleet_junit", TEXT),
    },
    "tdxpolicy.commands.exports.HostExport": {
        "nfd": ("tdxpolicy.render.export_formats:nfd_text", TEXT),
        "prometheus": ("tdxpolicy.render.export_formats:prometheus", TEXT),
    },
    "tdxpolicy.verdict.PathResult": {
        "text": ("tdxpolicy.render.text:path_text", TEXT),
        "json": ("tdxpolicy.codecs.path:to_json", DOC),
    },
    "tdxpolicy.commands.moves.Selection": {
        "text": ("tdxpolicy.render.text:selection_text", TEXT),
        "json": ("tdxpolicy.codecs.select:selection_to_json", DOC),
    },
    "tdxpolicy.commands.moves.ReleaseList": {
        "text": ("tdxpolicy.render.text:release_list_text", STREAM),
        "json": ("tdxpolicy.codecs.list:release_list_to_json", JSON_STREAM),
    },
    "tdxpolicy.commands.catalogue.ShownRelease": {
        "text": ("tdxpolicy.render.show:show_text", TEXT),
        "json": ("tdxpolicy.render.show:show_json", DOC),
    },
    "tdxpolicy.graph.VersionGraph": {
        "text": ("tdxpolicy.render.graph:graph_text_style", TEXT),
        "json": ("tdxpolicy.render.graph:graph_json", DOC),
        "dot": ("tdxpolicy.render.graph:graph_dot_style", TEXT),
        "mermaid": ("tdxpolicy.render.graph:graph_mermaid_style", TEXT),
    },
    "tdxpolicy.diff.CatalogueDiff": {
        "text": ("tdxpolicy.render.diff:diff_text_style", TEXT),
        "json": ("tdxpolicy.render.diff:diff_json", DOC),
        "sarif": ("tdxpolicy.render.diff:diff_sarif_doc", DOC),
    },
    "tdxpolicy.host.probe.ProbeResult": {
        "text": ("tdxpolicy.render.host:probe_text", TEXT),
        "json": ("tdxpolicy.render.host:probe_json", DOC),
    },
    "tdxpolicy.host.preflight.Preflight": {
        "text": ("tdxpolicy.render.host:preflight_text", TEXT),
        "json": ("tdxpolicy.render.host:preflight_json", DOC),
        "junit": ("tdxpolicy.render.export_formats:preflight_junit", TEXT),
    },
    "tdxpolicy.host.upload.UpdateResult": {
        "text": ("tdxpolicy.render.host:update_text", TEXT),
        "json": ("tdxpolicy.render.host:update_json", DOC),
    },
    "tdxpolicy.commands.image.ImageReport": {
        "text": ("tdxpolicy.image.render:report_text", TEXT),
        "json": ("tdxpolicy.image.render:report_json", DOC),
    },
    "tdxpolicy.commands.image.WrittenImage": {
        "text": ("tdxpolicy.image.render:written_text", TEXT),
        "json": ("tdxpolicy.image.render:written_json", DOC),
    },
    "tdxpolicy.catalogue_build.BuildReport": {
        "text": ("tdxpolicy.catalogue_build:build_report_text", TEXT),
    },
    "tdxpolicy.fleet.FleetSummary": {
        "text": ("tdxpolicy.fleet:summary_text", TEXT),
        "json": ("tdxpolicy.fleet:summary_json", LINE),
    },
    "tdxpolicy.commands.about.ErrorReport": {
        "text": ("tdxpolicy.commands.about:error_text", TEXT),
        "json": ("tdxpolicy.commands.about:error_json", LINE),
    },
    "tdxpolicy.commands.about.VersionInfo": {
        "text": ("tdxpolicy.commands.about:version_text", TEXT),
        "json": ("tdxpolicy.commands.about:version_json", DOC),
    },
}


def register(result_type: type | str, fmt: str, target: str | Callable[..., Any],
             kind: str = TEXT) -> None:
    """Add (or replace) the renderer of ``fmt`` for ``result_type``. ``target`` is a function
    or ``"module:function"`` (imported when first used); ``kind`` is :data:`TEXT` or
    :data:`DOC`."""
    if kind not in (TEXT, DOC, LINE, STREAM, JSON_STREAM):
        raise ValueError(f"kind must be one of {TEXT!r}, {DOC!r}, {LINE!r}, {STREAM!r}, "
                         f"{JSON_STREAM!r}, got {kind!r}")
    key = result_type if isinstance(result_type, str) else _type_key(result_type)
    if callable(target):
        _LOADED[(key, fmt)] = target
        target = f"{target.__module__}:{target.__qualname__}"
    RENDERERS.setdefault(key, {})[fmt] = (target, kind)


#: Functions handed to :func:`register` (not importable by name, e.g. a closure).
_LOADED: dict[tuple[str, str], Callable[..., Any]] = {}


def _type_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _entry(result: Any, fmt: str) -> tuple[str, str, str]:
    for cls in type(result).__mro__:
        key = _type_key(cls)
        table = RENDERERS.get(key)
        if table is not None:
            if fmt not in table:
                raise ValueError(f"no {fmt!r} renderer for {key} (have: {', '.join(table)})")
            target, kind = table[fmt]
            return key, target, kind
    raise TypeError(f"no renderer registered for {_type_key(type(result))}")


def formats_for(result_type: type | str) -> tuple[str, ...]:
    """The formats registered for a result type."""
    key = result_type if isinstance(result_type, str) else _type_key(result_type)
    return tuple(RENDERERS.get(key, {}))


def _load(key: str, fmt: str, target: str) -> Callable[..., Any]:
    registered = _LOADED.get((key, fmt))
    if registered is not None:  # a function given to register() itself
        return registered
    import importlib

    # Looked up at every call (importlib caches the module): a renderer replaced at run time,
    # as tests do, is the one used.
    module, _, name = target.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn


@value
class Style:
    """How text is laid out for one sink: ANSI colour or not; the width to wrap to (``None``:
    one line per item, never wrapped)."""

    color: bool = False
    width: int | None = None


PLAIN = Style()


def render(result: Any, fmt: str, style: Style = PLAIN) -> str:
    """The text of ``result`` in ``fmt`` (a document is serialised by :func:`dumps`),
    ending with a newline."""
    key, target, kind = _entry(result, fmt)
    fn = _load(key, fmt, target)
    if kind == DOC:
        return dumps(fn(result)) + "\n"
    if kind == LINE:
        return dumps(fn(result), pretty=False) + "\n"
    if kind in (STREAM, JSON_STREAM):
        parts: list[str] = []
        fn(result, parts.append, style)
        return "".join(parts)
    text: str = fn(result, style)
    return text


class Sink:
    """Where output goes: a text stream (``text``) with a byte stream beneath it (``binary``,
    for streaming commands), and the :class:`Style` text gets there."""

    def __init__(self, text: IO[str], binary: IO[bytes] | None, style: Style,
                 is_file: bool) -> None:
        self.text = text
        self.binary = binary
        self.style = style
        self.is_file = is_file

    def write(self, s: str) -> None:
        self.text.write(s)

    def flush(self) -> None:
        self.text.flush()


def emit(result: Any, fmt: str, out: Sink | IO[str] | None = None) -> None:
    """Render ``result`` in ``fmt`` and write it to ``out`` (a :class:`Sink`, a text stream:
    plain style, or ``None``: stdout with its terminal style). A JSON document bound for a
    stream that cannot encode more than ASCII (``LC_ALL=C`` without coercion,
    ``PYTHONIOENCODING=ascii``) is written with ``\\uXXXX`` escapes: the same document."""
    if out is None:
        out = stdout_sink()
    style = out.style if isinstance(out, Sink) else PLAIN
    key, target, kind = _entry(result, fmt)
    if kind in (STREAM, JSON_STREAM):
        write = out.write
        if kind == JSON_STREAM:
            from .safe_text import ascii_json, is_utf

            stream = out.text if isinstance(out, Sink) else out
            if not is_utf(stream):
                def write(s: str, _w: Callable[[str], Any] = out.write) -> None:
                    _w(ascii_json(s))
        _load(key, fmt, target)(result, write, style)
        out.flush()
        return
    text = render(result, fmt, style)
    if kind in (DOC, LINE):
        from .safe_text import ascii_json, is_utf

        stream = out.text if isinstance(out, Sink) else out
        if not is_utf(stream):
            text = ascii_json(text)
    out.write(text)
    out.flush()


def stdout_sink() -> Sink:
    return Sink(sys.stdout, getattr(sys.stdout, "buffer", None), terminal_style(sys.stdout),
                is_file=False)


def stderr_sink() -> Sink:
    return Sink(sys.stderr, getattr(sys.stderr, "buffer", None), terminal_style(sys.stderr),
                is_file=False)


# --- JSON -------------------------------------------------------------------------------------


def json_for(doc: Any, stream: Any, *, pretty: bool = True) -> str:
    """:func:`dumps` and a newline, as ``stream`` can take it: only ASCII (``\\uXXXX``
    escapes, the same document) when the stream cannot encode more."""
    from .safe_text import ascii_json, is_utf

    text = dumps(doc, pretty=pretty)
    return (text if is_utf(stream) else ascii_json(text)) + "\n"


def dumps(doc: Any, *, pretty: bool = True) -> str:
    """Serialise a document: indented for a person, compact (``pretty=False``) for JSON Lines.

    The one JSON policy of the package (safe_text.py): non-ASCII text as itself, and
    the result is always valid UTF-8: a lone surrogate (a file name whose bytes are not UTF-8,
    as Python decodes it) is written as the escaped text people see elsewhere (``\\xff``)."""
    from .safe_text import dumps as safe_dumps

    return safe_dumps(doc, indent=2 if pretty else None, compact=not pretty, default=str)


# --- style ------------------------------------------------------------------------------------


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def color_enabled(stream: Any) -> bool:
    """Whether to colour text for ``stream``: never when ``NO_COLOR`` is set to anything
    (no-color.org; it wins over ``FORCE_COLOR``); always when ``FORCE_COLOR`` is set (other
    than to ``0``; force-color.org); never when ``TERM=dumb``; else only on a terminal."""
    env = os.environ
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force and force != "0":
        return True
    if env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def wrap_width(stream: Any) -> int | None:
    """The width to wrap text to on ``stream``: ``COLUMNS`` when set (to a number >= 20),
    else the terminal's width when ``stream`` is a terminal, else ``None`` (a file or pipe
    gets one line per item, so that ``grep`` keeps working)."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and cols.isascii() and len(cols) < 6:
        return max(int(cols), 20)
    if _isatty(stream):
        import shutil

        return max(shutil.get_terminal_size().columns, 20)
    return None


def terminal_style(stream: Any) -> Style:
    return Style(color=color_enabled(stream), width=wrap_width(stream))


def file_style() -> Style:
    """A file named with ``--output``: no wrapping; colour only when ``FORCE_COLOR`` asks."""
    force = os.environ.get("FORCE_COLOR")
    return Style(color=bool(force and force != "0" and not os.environ.get("NO_COLOR")),
                 width=None)


# --- files ------------------------------------------------------------------------------------


def is_stdout(path: str | Path | None) -> bool:
    return path is None or str(path) == "-"


@contextmanager
def open_output(path: str | Path | None, flag: str = "--output") -> Iterator[Sink]:
    """A sink for ``path``: stdout for ``None`` or ``-``; otherwise a temporary file in the
    same directory that replaces ``path`` only when the block completes (an exception removes
    it: no partial file, and an existing ``path`` is left as it was). A directory, or a
    directory that does not exist, is refused before anything runs (``InputError``, exit 2)."""
    if is_stdout(path):
        yield stdout_sink()
        return
    assert path is not None
    target = Path(path)
    tmp_fd, tmp = _temp_beside(target, flag)
    try:
        with os.fdopen(tmp_fd, "wb") as raw:
            import io

            text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n", write_through=True)
            try:
                yield Sink(text, raw, file_style(), is_file=True)
                text.flush()
            finally:
                text.detach()
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_output(path: str | Path | None, flag: str = "--output") -> None:
    """Refuse an output path that can never be written (a directory, or in a directory that
    does not exist) before a command does anything else (``InputError``, exit 2)."""
    if is_stdout(path):
        return
    from .errors import InputError

    target = Path(str(path))
    if target.is_dir():
        raise InputError(f"{flag}: {target} is a directory; name a file to write",
                         code="unwritable")
    if not target.parent.is_dir():
        raise InputError(f"{flag}: cannot write {target}: no such directory {target.parent}",
                         code="unwritable")


def _temp_beside(target: Path, flag: str) -> tuple[int, str]:
    from .errors import InputError

    check_output(target, flag)
    parent = target.parent
    try:
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"{flag}: cannot write {target}: {e.strerror or e}",
                         code="unwritable") from None
    # mkstemp creates the file 0600; a report is as readable as any file the user creates.
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.fchmod(fd, 0o666 & ~mask)
    except OSError:
        pass
    return fd, tmp
