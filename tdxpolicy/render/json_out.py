"""Compatibility re-exports: the move documents' codecs now live in :mod:`tdxpolicy.codecs`
(one module per schema) and the one JSON serialiser in :mod:`tdxpolicy.output`. Kept because
other code (and branches written against the old layout) import these names from here."""

from __future__ import annotations

from ..codecs.list import LIST_TAG, list_json, release_json, write_list_json
from ..codecs.path import PATH_TAG, path_json
from ..codecs.select import SELECT_TAG, select_json
from ..codecs.verdict import VERDICT_TAG, check_json, json_value, verdict_json
from ..output import dumps

__all__ = [
    "VERDICT_TAG",
    "PATH_TAG",
    "SELECT_TAG",
    "LIST_TAG",
    "json_value",
    "check_json",
    "verdict_json",
    "path_json",
    "select_json",
    "release_json",
    "list_json",
    "write_list_json",
    "dumps",
]
