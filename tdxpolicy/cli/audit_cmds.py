"""CLI command ``audit``: Intel's release data, policy documents and images checked against
each other (issue #6).

Loads the documents (embedded catalogue unless ``--no-default-policy``, plus ``--policy``)
*without merging them* (the audit compares sources that disagree), reads and verifies the
images of ``--images``, runs :func:`tdxpolicy.audit.run_audit`, renders text, JSON
(``audit/1``), SARIF 2.1.0 or GitHub workflow commands. Exit 1 when a finding is at least as
severe as ``--fail-on`` (default ``error``: warnings alone do not fail a pipeline), else 0;
2 for unreadable input.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import ExitCode, app, emit_json
from .finding_opts import AuditFormat, FailOnLevel, FailOnOpt
from .options import NoDefaultPolicyOpt, OutputOpt, PolicyOpt, to_output
from ..output import check_output

if TYPE_CHECKING:  # pragma: no cover
    import datetime as _dt

    from ..audit import AuditImage

# Files taken from an --images directory (Intel publishes *.blob; converted images and
# sigstruct/module joins are often named *.bin or *.img).
IMAGE_SUFFIXES = (".blob", ".bin", ".img", ".image")


def _parse_today(text: str | None) -> _dt.date:
    import datetime as dt

    from ..errors import InputError

    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError.at(
            f"--today: expected a date like 2026-11-26 (YYYY-MM-DD), got {text!r}",
            code="usage",
        ) from None


def _image_files(path: Path) -> list[Path]:
    from ..errors import InputError
    from ..model import Location

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError.at("no such file or directory",
                            Location(str(path)), code="unreadable")
    try:
        found = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
    except OSError as e:
        raise InputError.at(f"cannot read {path}: {e.strerror or e}", Location(str(path)),
                            code="unreadable") from None
    if not found:
        raise InputError.at(
            f"no images in directory {path} (looked for {', '.join('*' + s for s in IMAGE_SUFFIXES)})",
            Location(str(path)),
            code="unreadable",
        )
    return found


def _load_images(path: Path) -> list[AuditImage]:
    """Read every image; a file that cannot be read is an input error (exit 2); a file that is
    read but is not a valid image is a finding (``image-invalid``)."""
    from ..audit import from_image, unreadable_image
    from ..errors import InputError
    from ..image.reader import read_file_limited, read_image
    from ..image.verify import verify

    out: list[AuditImage] = []
    for f in _image_files(path):
        data = read_file_limited(f)  # InputError (exit 2) when unreadable
        try:
            image = read_image(data, str(f))
        except InputError as e:
            p = e.problems[0]
            out.append(unreadable_image(str(f), p.message, p.location))
            continue
        out.append(from_image(image, verify(image)))
    return out


def _under(path: Path, cwd: str) -> Path:
    """``path`` relative to the working directory when it lies below it, so that messages,
    locations and SARIF URIs all name files the same way (relative to the repository)."""
    import os

    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(cwd)
    except ValueError:
        return path


def sarif_category(policy: list[Path], images: Path | None, no_default_policy: bool) -> str:
    """The code scanning category of an audit: its inputs as named on the command line
    (``embedded`` for the embedded catalogue, each ``--policy``, ``images=`` the image path),
    so it is the same on every run of the same command and differs between audits of
    different inputs. Characters other than letters, digits and ``._+=/-`` become ``_``."""
    parts = [] if no_default_policy else ["embedded"]
    parts += [p.as_posix() for p in policy]
    if images is not None:
        parts.append("images=" + images.as_posix())
    return re.sub(r"[^A-Za-z0-9._+=/-]", "_", "+".join(parts) or "nothing")


@app.command("audit")
def audit_cmd(
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    images: Annotated[
        Optional[Path],
        typer.Option("--images", metavar="DIR", help="Directory of module images (*.blob, *.bin, *.img) to "
                     "verify and check against the sources; or one image file."),
    ] = None,
    fmt: Annotated[
        AuditFormat,
        typer.Option("--format", help="Output format: text, json (audit/1), sarif (2.1.0) or "
                     "github (workflow-command annotations).", case_sensitive=False),
    ] = AuditFormat.text,
    fail_on: FailOnOpt = FailOnLevel.error,
    today: Annotated[
        Optional[str],
        typer.Option("--today", metavar="DATE", help="Date for the stale-document rule (YYYY-MM-DD); default: "
                     "today."),
    ] = None,
    output: OutputOpt = None,
) -> int:
    """Check Intel's release data, policy documents and images against each other.

    Exit 1 when a finding is at least as severe as --fail-on (default: error), else 0;
    2 when an input cannot be read.
    """
    check_output(output)
    with to_output(output):
        return _audit(policy, no_default_policy, images, fmt, fail_on, today)


def _audit(policy: Optional[list[Path]], no_default_policy: bool, images: Optional[Path],
           fmt: "AuditFormat", fail_on: "FailOnLevel", today: Optional[str]) -> int:
    import os

    from .. import __version__
    from ..audit import FailOn, fails, relativize, run_audit
    from ..sources import embedded_documents, load_documents

    day = _parse_today(today)
    cwd = os.getcwd()
    docs = [] if no_default_policy else list(embedded_documents())
    policy_paths = [_under(p, cwd) for p in policy or []]
    image_path = _under(images, cwd) if images is not None else None
    docs.extend(load_documents(policy_paths))
    imgs = _load_images(image_path) if image_path is not None else []
    report = relativize(run_audit(docs, imgs, today=day), cwd)
    if fmt is AuditFormat.json:
        from ..audit.report import to_json

        emit_json(to_json(report))
    elif fmt is AuditFormat.sarif:
        from ..render.sarif import to_sarif

        category = sarif_category(policy_paths, image_path, no_default_policy)
        emit_json(to_sarif(report, __version__, category))
    elif fmt is AuditFormat.github:
        from ..render.github import github_annotations

        sys.stdout.write(github_annotations(report.findings, embedded=report.embedded))
    else:
        from ..audit.report import to_text

        sys.stdout.write(to_text(report))
    return int(ExitCode.DENIED if fails(report.findings, FailOn(fail_on.value)) else ExitCode.OK)
