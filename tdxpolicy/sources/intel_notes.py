"""Intel's published notes, quoted once, so that every source that states them agrees.

Both the embedded catalogue (scripts/make_embedded_catalogue.py) and the parser of Intel's
binaries README quote these texts; the status is a *fact*, and facts from several sources must
be identical or merging fails (policy-format.md, "Merging"). Source: README.md of
github.com/intel/confidential-computing.tdx.tdx-module.binaries (commit 7a16224),
"Important Notes".
"""

from __future__ import annotations

__all__ = [
    "INTEL_BINARIES_REPO",
    "INTEL_BINARIES_COMMIT",
    "INTEL_MODULE_REPO",
    "INTEL_MODULE_COMMIT",
    "TD_BUILD_NOTE",
    "TD_BUILD_ADVISORY",
    "SERIES_2_0_NOTE",
    "SERIES_2_0_STATUS",
]

INTEL_BINARIES_REPO = "https://github.com/intel/confidential-computing.tdx.tdx-module.binaries"
INTEL_BINARIES_COMMIT = "7a16224"
INTEL_MODULE_REPO = "https://github.com/intel/confidential-computing.tdx.tdx-module"
INTEL_MODULE_COMMIT = "0218cf3"

#: Intel's README, verbatim.
TD_BUILD_NOTE = (
    "Performing TD Preserving during a TD Build operation might result in a corrupted TD hash "
    "in the TD attestation report. Until fixed in a future Intel TDX module update, a host VMM "
    "can avoid the problem by not conducting a TD Preserving Update while TD Build operation "
    "is in progress."
)
#: The advisory text (word ``td-build``) on every release that has an update policy.
TD_BUILD_ADVISORY = "Intel: " + TD_BUILD_NOTE

#: Intel's README, verbatim.
SERIES_2_0_NOTE = (
    "Intel TDX module 2.0 versions include pre-production Connect interfaces and are currently "
    "not supported."
)
#: The reason of ``status preview`` on every 2.0 release.
SERIES_2_0_STATUS = "Intel: " + SERIES_2_0_NOTE
