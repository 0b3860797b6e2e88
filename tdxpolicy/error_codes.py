"""The closed set of error codes (docs/cli.md#error-codes), mirrored in
schemas/error.schema.json. Imported when an error is made, not at start-up; reach it as
``tdxpolicy.errors.ErrorCode``."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode"]


class ErrorCode(StrEnum):
    """Every ``error.code`` a JSON error document can carry (docs/cli.md#error-codes).

    Scripts branch on these words, so they are a contract: add, never rename. The same set is
    the ``enum`` of ``error.code`` in schemas/error.schema.json; tests/test_core_errors.py keeps
    the two equal and checks that every code the package raises is a member."""

    # usage and files
    USAGE = "usage"  # command line the parser refuses (unknown option, missing argument, ...)
    INVALID_FLAG = "invalid-flag"  # a flag's value (--cpuid, --remaining, --max-hops, ...)
    UNREADABLE = "unreadable"  # a named file or directory the OS will not give us
    UNWRITABLE = "unwritable"  # an output file that cannot be written
    OUTPUT_EXISTS = "output-exists"  # an output file that exists (no --force)
    OUTPUT_IS_DIRECTORY = "output-is-directory"  # -o names a directory (nothing is written)
    UNWRITABLE_RECORD = "unwritable-record"  # update's JSON Lines record cannot be appended
    # versions and policy sources
    INVALID_INPUT = "invalid-input"  # malformed input with no more specific code
    INPUT_TOO_LARGE = "input-too-large"  # standard input over the size limit of what it holds
    INVALID_VERSION = "invalid-version"
    INVALID_ARGUMENT = "invalid-argument"  # a Python value of the wrong type or range (API)
    UNKNOWN_VERSION = "unknown-version"  # `show` of a version no source declares
    SYNTAX_ERROR = "syntax-error"  # a policy document the grammar refuses
    INVALID_DOCUMENT = "invalid-document"  # parses, but a value is out of range or contradictory
    UNSUPPORTED_SOURCE = "unsupported-source"  # a --policy file of no known kind
    CONFLICTING_FACTS = "conflicting-facts"  # one fact, different values in different sources
    # host facts
    INVALID_HOST_FACTS = "invalid-host-facts"  # --facts / fleet input that is not host facts
    HOST_UNAVAILABLE = "host-unavailable"  # the probe could not read the host (exit 3)
    NOT_TDX_HOST = "not-tdx-host"  # no tdx_host device at all (exit 3)
    BAD_HOST_DATA = "bad-host-data"  # a sysfs/procfs file with content we cannot use (exit 3)
    PERMISSION = "permission"  # a root-only host file read without root (exit 3)
    MODULE_LOST = "module-lost"  # the module does not answer (reboot required; exit 3)
    SEAMRET_INVD_VMCS = "seamret-invd-vmcs"  # CPU erratum: runtime updates disabled (exit 3)
    NO_UPDATE_INTERFACE = "no-update-interface"  # no usable upload directory (exit 3)
    # images
    NOT_AN_IMAGE = "not-an-image"
    TRUNCATED_IMAGE = "truncated-image"
    IMAGE_TOO_LARGE = "image-too-large"
    IMAGE_INVALID = "image-invalid"  # convert/join refuse an image that fails verification
    UNIDENTIFIED_IMAGE = "unidentified-image"  # an --image no catalogue release matches
    IMAGE_NAME_MISMATCH = "image-name-mismatch"  # a --policy image whose file name claims another release
    # the operator stopped the command (Ctrl-C, exit 130)
    INTERRUPTED = "interrupted"
    # the base class's own code: an error raised without a more specific one
    ERROR = "error"
