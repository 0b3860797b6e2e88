"""Write tdxpolicy/data/policy-parser.tables: the LALR tables of grammars/policy.lark.

Run after changing the grammar or the lark version the project installs:

    python scripts/make_parser_tables.py

The tables only save start-up time (docs/performance.md, "Parser tables"): a stale file is
detected by its header (grammar SHA-256, lark version) and ignored, never trusted.
tests/test_parser_tables.py fails while the shipped file is stale for the checkout's grammar.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tdxpolicy.sources.document import PARSER_TABLES, build_parser_tables  # noqa: E402


def main() -> None:
    out = REPO / "tdxpolicy" / "data" / PARSER_TABLES
    data = build_parser_tables()
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"wrote {out.relative_to(REPO)} ({len(data):,} bytes): {data.splitlines()[0].decode()}")


if __name__ == "__main__":
    main()
