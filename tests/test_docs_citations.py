"""The repository carries its own contracts (issue #11, item 10): code, schemas, tests and docs
cite docs/domain.md and docs/cli.md by anchor, every cited anchor exists, and nothing cites the
reference notes outside the repository any more."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"docs/([a-z-]+\.md)#([a-z0-9-]+)")


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
        paths = [REPO / p for p in out]
    except (OSError, subprocess.CalledProcessError):  # an sdist without git: walk the tree
        paths = [p for p in REPO.rglob("*") if p.is_file() and ".venv" not in p.parts]
    return [p for p in paths if p.suffix in (".py", ".md", ".json", ".lark", ".toml")
            and p.exists()]


def _anchors(doc: Path) -> set[str]:
    """Explicit ``<a id="...">`` anchors and the slugs GitHub derives from headings."""
    text = doc.read_text()
    ids = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        ids.add(slug)
    return ids


def test_every_cited_anchor_exists() -> None:
    cited: dict[tuple[str, str], str] = {}
    for path in _tracked_text_files():
        for m in CITATION.finditer(path.read_text(errors="replace")):
            cited.setdefault((m.group(1), m.group(2)), str(path.relative_to(REPO)))
    # the rewrite of issue #11 cites both documents throughout
    assert {doc for doc, _ in cited} >= {"domain.md", "cli.md"}
    assert len(cited) > 30
    missing = {f"docs/{doc}#{anchor}": where for (doc, anchor), where in cited.items()
               if not (REPO / "docs" / doc).is_file()
               or anchor not in _anchors(REPO / "docs" / doc)}
    assert not missing, missing


def test_the_contract_anchors_exist() -> None:
    domain = _anchors(REPO / "docs" / "domain.md")
    # one anchor per move rule, named like the check code that implements it
    assert {"same-series", "update-rule", "direction", "seamldr", "cpu", "debug", "svn",
            "handoff", "remaining-updates"} <= domain
    assert {"parts", "move-rules", "linux-interface", "kernel-generations", "upload-protocol",
            "image-formats", "sigstruct", "sigstruct-checks", "intel-data", "known-gaps"} <= domain
    cli = _anchors(REPO / "docs" / "cli.md")
    assert {"contract", "global-conventions", "exit-codes", "commands", "json-documents",
            "verdict-json", "errors", "error-codes", "check-codes", "host-facts"} <= cli


def test_nothing_cites_the_reference_notes_outside_the_repository() -> None:
    stale = re.compile(r"cli-contract|shared/docs/domain|domain\.md (section|s\.|§)")
    found = [f"{p.relative_to(REPO)}:{i}" for p in _tracked_text_files()
             if p.name != "test_docs_citations.py"
             for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if stale.search(line)]
    assert not found, found
