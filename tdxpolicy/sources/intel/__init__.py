"""Intel's published files as policy sources: the same model as a policy document.

Three files Intel publishes say something about runtime (TD-preserving) updates
(docs/domain.md#intel-data); each becomes a :class:`~tdxpolicy.model.PolicyDocument`:

- ``mapping_file.json`` (:mod:`.mapping`): per release, ``update from >=
  <min_module_version_for_td_preserving>``, the ``seamldr`` and ``features0`` facts. Checked
  against ``schemas/intel-mapping.schema.json``; every schema error is reported with its JSON
  path and line:column.
- the binaries README (:mod:`.readme`): the table "Intel TDX module limitations for
  TD-Preserving update" (``update from`` and ``seamldr``), and two of its "Important Notes":
  the TD-build caution (``advisory td-build``) and "2.0 versions ... currently not supported"
  (``status preview`` on the 2.0.x releases of the table).
- ``tdx-module-releases.md`` (:mod:`.mrseam`): the ``mrseam`` fact.

Markdown tables are parsed by :mod:`.markdown` (``grammars/markdown_table.lark``);
:mod:`.common` holds what the readers share (size limit, UTF-8, the within-series minimum);
:mod:`.load` tells the kinds apart by content (:func:`sniff_kind`) so ``--policy`` can take a
directory of mixed files, and reads one file (:func:`load_intel_file`). Merging the documents
is :func:`tdxpolicy.catalogue.merge`'s job, deciding moves the engine's.

Errors are :class:`~tdxpolicy.errors.InputError` with one located
:class:`~tdxpolicy.errors.Problem` per fault, all of them at once; nothing is half-loaded.
lark and jsonschema are imported only inside the functions that need them (CLI start-up cost).
"""

from __future__ import annotations

from .common import MAX_SOURCE_BYTES, decode_utf8
from .load import SNIFF_BYTES, load_intel_file, no_table_error, parse_intel_bytes, sniff_kind
from .mapping import MAPPING_SCHEMA, mapping_schema_errors, parse_mapping_json
from .mrseam import parse_mrseam_table
from .readme import README_TABLE_TITLE, parse_readme_table

# Private names of the former single module that tests/test_intel_mapping.py,
# tests/test_hostile_inputs.py and bench/bench_sources.py still reach for.
from ..jsontext import Positions as _Positions  # noqa: F401 - re-export, see above
from .load import _sniff_markdown as _sniff_markdown
from .mapping import _fast_valid as _fast_valid

__all__ = [
    "MAX_SOURCE_BYTES",
    "SNIFF_BYTES",
    "MAPPING_SCHEMA",
    "README_TABLE_TITLE",
    "decode_utf8",
    "parse_mapping_json",
    "parse_readme_table",
    "parse_mrseam_table",
    "sniff_kind",
    "load_intel_file",
    "mapping_schema_errors",
    "no_table_error",
    "parse_intel_bytes",
]
