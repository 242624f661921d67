"""rawnet: craft, parse, capture and explain IP/TCP/UDP/ICMP packets, TCP connections and sockets.

The pure core (codec, errors) is re-exported here; edges (capture files, live sockets, psutil) are
reached as subpackages. Importing rawnet imports neither scapy nor psutil.
"""

from __future__ import annotations

from .errors import BuildError as BuildError
from .errors import CaptureFormatError as CaptureFormatError
from .errors import DecodeError as DecodeError
from .errors import MalformedPacketError as MalformedPacketError
from .errors import PrivilegeError as PrivilegeError
from .errors import RawnetError as RawnetError
from .errors import SocketTableError as SocketTableError
from .errors import TargetError as TargetError
from .errors import TargetNotAllowedError as TargetNotAllowedError
from .errors import TruncatedCaptureError as TruncatedCaptureError
from .errors import TruncatedPacketError as TruncatedPacketError
from .errors import UsageError as UsageError
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from .packet import Packet as Packet
    from .packet import decode as decode
    from .packet import encode as encode

__version__ = "0.1.0"

_LAZY = {"Packet", "decode", "encode"}


def __getattr__(name: str) -> _Any:
    """Return the codec's ``Packet``/``decode``/``encode`` on first use (so `rawnet sockets` never loads the codec)."""
    if name in _LAZY:
        from . import packet

        value = getattr(packet, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rawnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)

__all__ = [
    "BuildError", "CaptureFormatError", "DecodeError", "MalformedPacketError", "PrivilegeError", "RawnetError",
    "SocketTableError", "TargetError", "TargetNotAllowedError", "TruncatedCaptureError", "TruncatedPacketError",
    "UsageError", "Packet", "decode", "encode", "__version__",
]
