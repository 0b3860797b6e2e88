"""tdxpolicy: policy engine and compatibility checker for Intel TDX module runtime updates.

The public API is re-exported here lazily so that ``import tdxpolicy`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"
