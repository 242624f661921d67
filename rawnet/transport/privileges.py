"""Which capabilities the process has, and the one message that says how to get CAP_NET_RAW.

Theory of operation: ``check_privileges()`` reads the effective capability set from
``/proc/self/status`` (``CapEff``) so a command can refuse early with a clear message; the real
``PermissionError`` of ``socket()`` is still translated by ``privilege_error()`` at the edge,
because the check can race (capabilities can be dropped in between).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ..errors import PrivilegeError

__all__ = ["PrivilegeReport", "check_privileges", "require_cap_net_raw", "privilege_error", "setcap_hint",
           "CAP_NET_RAW", "CAP_NET_ADMIN"]

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13


def setcap_hint() -> str:
    """Return the "how to get it" hint naming the real interpreter path (setcap needs the real file)."""
    return f"run as root, or: sudo setcap cap_net_raw+ep {os.path.realpath(sys.executable)}"


@dataclass(frozen=True, slots=True)
class PrivilegeReport:
    """The effective capabilities that matter to rawnet."""

    euid: int
    """Effective user id."""
    cap_effective: int
    """Effective capability bit mask (CapEff)."""

    @property
    def has_net_raw(self) -> bool:
        """Return True when CAP_NET_RAW is effective."""
        return bool(self.cap_effective >> CAP_NET_RAW & 1)

    @property
    def has_net_admin(self) -> bool:
        """Return True when CAP_NET_ADMIN is effective."""
        return bool(self.cap_effective >> CAP_NET_ADMIN & 1)


def parse_cap_eff(status_text: str) -> int:
    """Return the CapEff mask from the text of /proc/<pid>/status (0 when absent)."""
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def check_privileges(status_path: str = "/proc/self/status") -> PrivilegeReport:
    """Return the process's effective uid and capabilities (reads ``status_path``)."""
    try:
        with open(status_path, encoding="ascii") as fh:
            mask = parse_cap_eff(fh.read())
    except OSError:
        mask = (1 << 64) - 1 if os.geteuid() == 0 else 0
    return PrivilegeReport(os.geteuid(), mask)


def require_cap_net_raw(operation: str) -> None:
    """Return None when CAP_NET_RAW is effective; raise PrivilegeError (exit 77) naming ``operation`` otherwise."""
    if not check_privileges().has_net_raw:
        raise PrivilegeError("CAP_NET_RAW", operation, setcap_hint())


def privilege_error(operation: str, err: OSError) -> PrivilegeError:
    """Return the PrivilegeError for a PermissionError raised by ``operation`` (use ``raise ... from err``)."""
    return PrivilegeError("CAP_NET_RAW", operation, setcap_hint())
