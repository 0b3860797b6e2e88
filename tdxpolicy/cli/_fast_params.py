"""Keep pydantic off the start-up path of typer >= 0.26.

typer 0.26+ coerces *every* non-boolean option value through a pydantic ``TypeAdapter``, so the
first command that receives a ``--from 1.5.06`` imports pydantic and builds adapters: about
70 ms, more than half of ``import typer`` itself, on every run (measured with
``python -X importtime``; bench/bench_startup.py). Our options are all plain ``str``, ``int``,
``Path``, ``bool`` and ``Enum`` values, which need no schema machinery.

:func:`install` gives typer's parameter class a fast coercion for exactly those plain
annotations (same results and the same error messages as typer's own choice/path helpers) and
leaves every other annotation to typer. When typer's internals are not what this expects (older
typer without pydantic, or a future rewrite), it does nothing.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Callable

__all__ = ["install"]

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from dataclasses import dataclass

        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
        from typer._param_types import (
            coerce_cli_choice,
            coerce_cli_path,
            lenient_issubclass,
            routes_to_path,
        )
    except ImportError:  # typer without the pydantic layer: nothing to do
        return
    param_cls = getattr(core, "_TyperParameter", None)
    runtime_base = getattr(_coercion, "RuntimeParam", None)
    original = getattr(param_cls, "get_runtime_param", None)
    if param_cls is None or runtime_base is None or original is None:
        return

    @dataclass(frozen=True)
    class _PlainRuntimeParam(runtime_base):  # type: ignore[misc,valid-type]
        convert: Callable[[Any, Any, Any], Any]
        many: bool

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.many:
                if not isinstance(value, (list, tuple)):
                    value = [value]
                return [self.convert(v, param, ctx) for v in value]
            return self.convert(value, param, ctx)

    def _text(value: Any) -> str:
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)

    def leaf(annotation: Any, info: Any) -> Callable[[Any, Any, Any], Any] | None:
        if info.parser is not None:
            return None
        if annotation is str:
            return lambda v, p, c: _text(v)
        if annotation is bool:

            def to_bool(v: Any, p: Any, c: Any) -> bool:
                if isinstance(v, bool):
                    return v
                t = _text(v).strip().lower()
                if t in ("1", "true", "t", "yes", "y", "on"):
                    return True
                if t in ("0", "false", "f", "no", "n", "off"):
                    return False
                raise BadParameter(f"{_text(v)!r} is not a valid boolean.", ctx=c, param=p)

            return to_bool
        if annotation is int and not info.clamp:
            lo, hi = info.min, info.max

            def to_int(v: Any, p: Any, c: Any) -> int:
                try:
                    n = int(_text(v).strip())
                except ValueError:
                    raise BadParameter(f"{_text(v)!r} is not a valid integer.", ctx=c,
                                       param=p) from None
                if lo is not None and n < lo:
                    raise BadParameter(f"{n} is smaller than the minimum {lo}.", ctx=c,
                                       param=p)
                if hi is not None and n > hi:
                    raise BadParameter(f"{n} is larger than the maximum {hi}.", ctx=c,
                                       param=p)
                return n

            return to_int
        if lenient_issubclass(annotation, Enum):
            choices = tuple(annotation)
            case = info.case_sensitive

            def to_choice(v: Any, p: Any, c: Any) -> Any:
                try:
                    return coerce_cli_choice(v, choices=choices, case_sensitive=case, ctx=c)
                except ValueError as e:
                    raise BadParameter(str(e), ctx=c, param=p) from None

            return to_choice
        if annotation is Path and routes_to_path(annotation, info) and info.path_type in (None, Path):
            def to_path(v: Any, p: Any, c: Any) -> Any:
                pv = v if isinstance(v, Path) else Path(_text(v))
                return coerce_cli_path(pv, info, path_type=Path, param=p, ctx=c)

            return to_path
        return None

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            desc = self.type_descriptor
            ann = desc.annotation
            info = desc.parameter_info
            conv = None
            many = False
            if desc.file_annotation is None:
                origin = getattr(ann, "__origin__", None)
                if origin is list:
                    args: tuple[Any, ...] = tuple(getattr(ann, "__args__", ()))
                    if len(args) == 1:
                        conv = leaf(args[0], info)
                        many = True
                else:
                    conv = leaf(ann, info)
            if conv is None:
                return original(self)
            self._runtime_param = _PlainRuntimeParam(
                parameter_info=info, annotation=ann, convert=conv, many=many
            )
        return self._runtime_param

    param_cls.get_runtime_param = get_runtime_param
