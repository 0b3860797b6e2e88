"""The ``tdxpolicy`` command line: options in, one library call, render, exit.

Only this package reads argv and chooses exit codes (house-style "Thin CLI"); every result
and error leaves through :mod:`tdxpolicy.output`. Command modules register themselves on
:data:`app`; each does options -> one library call (:mod:`tdxpolicy.commands`) -> emit, and
imports its library in one place when a command runs, so that start-up stays cheap
(tests/test_cli_conventions.py counts those function-level imports).

Exit codes (docs/cli.md#exit-codes): 0 allowed/clean, 1 denied/findings, 2 invalid input or usage,
3 host facts unavailable, 4 update attempted and failed.
"""

from __future__ import annotations

import contextlib
import io
import sys
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import typer

__all__ = ["app", "main", "ExitCode", "emit_json", "json_text"]


class ExitCode(IntEnum):
    OK = 0
    DENIED = 1
    INVALID = 2
    HOST_UNAVAILABLE = 3
    UPDATE_FAILED = 4


app = typer.Typer(
    name="tdxpolicy",
    help=(
        "Decide, before anything is uploaded, whether the running Intel TDX module can move to a "
        "target version (upgrade, reinstall or rollback), and why."
    ),
    no_args_is_help=True,
    # --install-completion / --show-completion (docs/cli.md#completion).
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Command modules register on `app` when imported. Only the module of the invoked command is
# imported (cold start-up budget); help, completion and unknown names load them all.
# tests/test_startup.py checks that this table names every registered command.
COMMAND_MODULES: dict[str, str] = {
    "show": "catalogue_cmds",
    "graph": "catalogue_cmds",
    "lint": "catalogue_cmds",
    "can-upgrade": "move_cmds",
    "path": "move_cmds",
    "select": "move_cmds",
    "list": "move_cmds",
    "fleet": "fleet_cmds",
    "image": "image_cmds",
    "probe": "host_cmds",
    "preflight": "host_cmds",
    "update": "host_cmds",
    "audit": "audit_cmds",
    "diff": "diff_cmds",
    "catalogue": "build_cmds",
}


class LazyModule:
    """A module imported on its first attribute access. Command modules reach their library
    through one of these (``lib = LazyModule("tdxpolicy.commands.moves")``, typed as the real
    module under ``TYPE_CHECKING``), so that ``--help`` and the other commands do not pay for
    importing it, without scattering imports through the command functions."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        # Every lookup goes to the module itself (no copy of its names), so a name replaced
        # in the module later, as tests do, is the one used.
        module = self._module
        if module is None:
            import importlib

            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


def load_commands(name: str | None = None) -> None:
    """Import the module that registers command ``name`` (every module when ``None`` or
    unknown), in a stable order so that ``--help`` lists commands the same way every time."""
    import importlib

    wanted = COMMAND_MODULES.get(name or "")
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        if wanted is None or module == wanted:
            importlib.import_module(f"{__name__}.{module}")


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether the user asked for JSON, read from argv itself so that even a usage error
    (which happens before options are parsed) is reported in the requested format."""
    # --format is case-insensitive (options.FormatOpt): `--format JSON` is JSON too. The last
    # --format wins, as it does for the option itself.
    wanted = False
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == "--format" and i + 1 < len(argv):
            wanted = argv[i + 1].lower() == "json"
        elif a.startswith("--format="):
            wanted = a[len("--format="):].lower() == "json"
    return wanted


class _HeldStdout(io.StringIO):
    """stdout of a ``--format json`` command, handed on only when the command ends without an
    error: an error that comes after output has started then still leaves exactly one JSON
    document (the error) on stdout. Reports the real stream's encoding (json_text asks)."""

    def __init__(self, real: Any) -> None:
        super().__init__()
        self.real = real

    @property
    def encoding(self) -> Any:  # type: ignore[override]
        return getattr(self.real, "encoding", None)


@contextlib.contextmanager
def _hold_stdout(hold: bool) -> Iterator[None]:
    if not hold:
        yield
        return
    real = sys.stdout
    held = _HeldStdout(real)
    sys.stdout = held
    try:
        yield
    finally:
        sys.stdout = real
    # Only reached without an exception: the command's output, whole.
    real.write(held.getvalue())
    real.flush()


def json_text(doc: Any, *, pretty: bool = True) -> str:
    """One JSON document and a newline, as stdout should get it: valid UTF-8 whatever its
    strings hold (output.dumps), and only ASCII when stdout cannot encode more."""
    return _output.json_for(doc, sys.stdout, pretty=pretty)


def emit_json(doc: Any, *, pretty: bool = True) -> None:
    sys.stdout.write(json_text(doc, pretty=pretty))
    sys.stdout.flush()


def _emit_error(
    code: str, message: str, rendered: str, as_json: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    """An error through the one way out: JSON on stdout (``--format json``), else text on
    stderr (docs/cli.md#errors). ``code`` is a word of ErrorCode (checked here: a word
    outside it is a programming error)."""
    report = _commands.ErrorReport(str(_codes.ErrorCode(code)), message, rendered, extra)
    _output.emit(report, "json" if as_json else "text", sys.stdout if as_json else sys.stderr)


if TYPE_CHECKING:  # pragma: no cover
    from .. import error_codes as _codes
    from .. import output as _output
    from ..commands import about as _commands
else:  # imported when an error or --version is reported (start-up budget)
    _codes = LazyModule("tdxpolicy.error_codes")
    _commands = LazyModule("tdxpolicy.commands.about")
    _output = LazyModule("tdxpolicy.output")


def _command_for(args: Sequence[str]) -> object:
    """The click command to run ``args``: only the invoked command when it can be told from
    ``args[0]``, else the whole app.

    typer inspects the signature of every registered command before running one (about 1 ms
    per command, and the list grows); building just the one asked for keeps start-up within
    the budget of issue #3 (bench/bench_startup.py). Help and unknown names use the full app.
    """
    import copy

    from typer.main import get_command, get_group

    name = args[0] if args else ""
    if name and not name.startswith("-"):
        cmds = [c for c in app.registered_commands
                if (c.name or getattr(c.callback, "__name__", "")) == name]
        groups = [g for g in app.registered_groups
                  if (g.name or getattr(getattr(g.typer_instance, "info", None), "name", None)) == name]
        if cmds or groups:
            lean = copy.copy(app)
            lean.registered_commands = cmds
            lean.registered_groups = groups
            return get_group(lean)
    return get_command(app)


def _is_help_page(e: BaseException) -> bool:
    """Whether typer refused an empty command line by raising its help page (a group called
    with no arguments and ``no_args_is_help``). That error's class is not exported; typer's
    own rich_utils tells it by the class name too, so this names it the same way."""
    return type(e).__name__ == "NoArgsIsHelpError"


def _print_version(as_json: bool) -> None:
    """``tdxpolicy --version``: the tool, and the identity of the catalogue embedded in it."""
    _output.emit(_commands.version_info(), "json" if as_json else "text", sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point. Returns (and exits with) the contract's exit code."""
    # Only typer's public names: since typer 0.28 (the range pyproject.toml allows) every
    # error of its click core derives from typer.TyperException, and Abort is typer.Abort.
    from typer import Abort, TyperException

    from ..errors import TdxPolicyError

    from ..safe_text import install

    # Names that are not valid UTF-8 and text the locale cannot encode are written escaped,
    # never as a UnicodeEncodeError traceback or invalid bytes (safe_text.py).
    install(sys.stdout, sys.stderr)
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args)
    if args[:1] == ["--version"]:
        _print_version(as_json)
        if argv is None:
            raise SystemExit(0)
        return 0
    try:
        load_commands(args[0] if args else None)
        command = _command_for(args)
        # fleet streams (one JSON line per input line, millions of them): never held.
        with _hold_stdout(as_json and args[:1] != ["fleet"]):
            rv = command(args=args, prog_name="tdxpolicy", standalone_mode=False)  # type: ignore[operator]
            if rv == 130:
                # typer turns a KeyboardInterrupt inside a command into a plain return of
                # 130; report it as the interrupt it was (held JSON output is dropped).
                raise KeyboardInterrupt
        code = int(rv) if isinstance(rv, int) else 0
    except TdxPolicyError as e:
        problems = [p.to_json() for p in e.problems]
        _emit_error(e.code, e.message, e.render(), as_json, {"problems": problems})
        code = e.exit_code
    except TyperException as e:
        # A usage error (UsageError and its kin carry the click context: the command whose
        # --help to suggest) or a file typer could not open; exit 2 either way.
        message = e.format_message()
        if _is_help_page(e):
            sys.stderr.write(message)
        else:
            ctx = getattr(e, "ctx", None)
            hint = f"\n(try '{ctx.command_path} --help')" if ctx is not None else ""
            _emit_error("usage", message, message + hint, as_json)
        code = ExitCode.INVALID
    except Abort:
        _emit_error("interrupted", "aborted", "aborted", as_json)
        code = 130
    except KeyboardInterrupt:
        _emit_error("interrupted", "interrupted", "interrupted", as_json)
        code = 130
    except BrokenPipeError:
        # `tdxpolicy list | head`: the reader went away; not an error of ours.
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except OSError as e:
        # A file the operator named that the OS refuses in a way no reader anticipated (a
        # name too long for the file system, EIO from a special file, ...): still bad input
        # (exit 2) with the file and the reason, never a traceback.
        where = f"{e.filename}: " if e.filename else ""
        reason = e.strerror or str(e)
        _emit_error("unreadable", f"{where}cannot read: {reason}",
                    f"{where}cannot read: {reason}", as_json,
                    {"problems": [{"message": f"cannot read: {reason}",
                                   **({"location": {"file": str(e.filename)}}
                                      if e.filename else {})}]})
        code = ExitCode.INVALID
    if argv is None:
        raise SystemExit(code)
    return code
