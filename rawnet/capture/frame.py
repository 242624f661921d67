"""The objects a capture decoder returns: :class:`Frame` (one captured record) and
:class:`CaptureInfo` (what the file header and interface blocks said).

Linktypes are plain pcap ``LINKTYPE_*`` integers here; the codec (``rawnet.packet.link``) owns the
``LinkType`` enum and decides later what a linktype means. Timestamps are integer nanoseconds since
the Unix epoch, never floats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Frame", "CaptureInfo", "InterfaceInfo"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured record: timestamp, link type, captured bytes and original length."""

    ts_ns: int
    """Capture time in integer nanoseconds since the Unix epoch (0 when the record has none, e.g. a pcapng SPB)."""
    linktype: int
    """pcap LINKTYPE_* number of ``data`` (1 Ethernet, 101 raw IP, 113 Linux SLL ...)."""
    data: bytes
    """The captured bytes (``caplen`` of them)."""
    wirelen: int
    """Length of the packet on the wire; larger than ``caplen`` when the snaplen cut it."""
    interface: int = 0
    """Interface index inside its pcapng section (always 0 for pcap)."""
    comment: str | None = None
    """The pcapng ``opt_comment`` of the record, if any."""

    @property
    def caplen(self) -> int:
        """Return the number of captured bytes (``len(data)``)."""
        return len(self.data)


def frame_setters() -> tuple[Callable[..., None], ...]:
    """Return the slot setters of :class:`Frame` (ts_ns, linktype, data, wirelen, interface, comment).

    Decoders on the hot path build frames with ``object.__new__(Frame)`` and these setters, which
    costs less than half of the frozen dataclass ``__init__`` (it calls ``object.__setattr__``
    once per field). Every field must be set.
    """
    return tuple(getattr(Frame, name).__set__ for name in
                 ("ts_ns", "linktype", "data", "wirelen", "interface", "comment"))


@dataclass(slots=True)
class InterfaceInfo:
    """One capture interface: pcap has exactly one, pcapng one per IDB."""

    linktype: int
    """pcap LINKTYPE_* number of the interface."""
    snaplen: int
    """Snapshot length (0 means "no limit" in pcapng)."""
    ts_units_per_s: int
    """Timestamp resolution as units per second: 1_000_000 (µs), 1_000_000_000 (ns), 2**n ..."""
    ts_offset_s: int = 0
    """pcapng ``if_tsoffset``: seconds added to every timestamp of this interface."""
    name: str | None = None
    """pcapng ``if_name``, if present."""
    section: int = 0
    """Index of the pcapng section this interface belongs to (0 for pcap)."""


@dataclass(slots=True)
class CaptureInfo:
    """What a capture said about itself; filled in by the decoder while it reads."""

    format: str = ""
    """``"pcap"`` or ``"pcapng"`` (empty until the header was read)."""
    byte_order: str = ""
    """``"little"`` or ``"big"`` (of the first section for pcapng)."""
    version: tuple[int, int] = (0, 0)
    """Format version from the file / section header."""
    snaplen: int = 0
    """Snapshot length of the pcap header, or of the first pcapng interface."""
    ts_units_per_s: int = 0
    """Timestamp resolution of the pcap header, or of the first pcapng interface."""
    compressed: str | None = None
    """``"gzip"`` when the file was gzip-compressed, else ``None``."""
    linktypes: list[int] = field(default_factory=list)
    """Every distinct linktype seen so far, in the order first seen."""
    interfaces: list[InterfaceInfo] = field(default_factory=list)
    """Every interface seen so far (pcapng: across all sections)."""
    sections: int = 0
    """Number of pcapng sections seen (1 for pcap)."""
    records: int = 0
    """Number of frames returned so far."""

    def add_interface(self, iface: InterfaceInfo) -> None:
        """Record a newly seen interface (and its linktype); returns nothing."""
        if not self.interfaces:
            self.snaplen = iface.snaplen
            self.ts_units_per_s = iface.ts_units_per_s
        self.interfaces.append(iface)
        if iface.linktype not in self.linktypes:
            self.linktypes.append(iface.linktype)
