"""What the operator is told to do when the host stands in the way of a runtime update
(docs/domain.md#linux-interface): the hints of :mod:`tdxpolicy.host.probe`,
:mod:`tdxpolicy.host.cpuinfo` and :mod:`tdxpolicy.host.preflight` messages."""

from __future__ import annotations

__all__ = ["HINT_NOT_TDX", "HINT_ROOT", "HINT_MODULE_LOST", "HINT_SEAMRET", "HINT_NO_UPLOAD"]

HINT_NOT_TDX = (
    "this host does not run a TDX-enabled kernel with a TDX module: enable TDX in the BIOS "
    "(TME-MT and SEAM loader settings) and boot a kernel with TDX host support "
    "(kvm_intel.tdx=1)"
)
HINT_ROOT = "run as root (the P-SEAMLDR attributes are readable by root only)"
HINT_MODULE_LOST = (
    "the TDX module is gone (a runtime update failed after the old module shut down): every "
    "TD on this host was lost and TDX is unusable until the host is rebooted; reboot it"
)
HINT_SEAMRET = (
    "the CPU reports the seamret_invd_vmcs erratum (/proc/cpuinfo 'bugs'), so the kernel "
    "disables TDX module runtime updates (Documentation/arch/x86/tdx.rst): load a CPU "
    "microcode update that fixes the erratum, or update the TDX module through a BIOS update "
    "and a reboot"
)
HINT_NO_UPLOAD = (
    "the kernel exposes no TDX module update interface: the running module does not report "
    "TD-preserving update support (TDX_FEATURES0 bit 1) or the kernel has no runtime update "
    "support; boot a kernel with TDX module runtime update, or update the module through a "
    "BIOS update and a reboot"
)
