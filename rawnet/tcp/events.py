"""Events the TCP tracker emits (frozen, slotted dataclasses; drained with ``TCPTracker.events()``)."""

from __future__ import annotations

from dataclasses import dataclass

from .state import TCPState

__all__ = [
    "AnomalyObserved",
    "HandshakeCompleted",
    "ICMPErrorObserved",
    "ResetObserved",
    "SegmentRetransmitted",
    "StateChanged",
    "TrackerEvent",
]


@dataclass(frozen=True, slots=True)
class TrackerEvent:
    """Base of every tracker event."""

    flow_id: int
    """Id of the Flow (rawnet.flow) the event belongs to."""
    ts_ns: int
    """Capture timestamp of the packet that caused or revealed the event."""
    packet: int
    """Number (1-based) of that packet."""


@dataclass(frozen=True, slots=True)
class StateChanged(TrackerEvent):
    """An endpoint moved to a new RFC 9293 state."""

    endpoint: str
    """"client" or "server" (as known when the event was emitted)."""
    old: TCPState
    """State before."""
    new: TCPState
    """State after."""
    seen: bool
    """True when the endpoint sent the packet, False when it was inferred from one it received."""


@dataclass(frozen=True, slots=True)
class HandshakeCompleted(TrackerEvent):
    """The first pure ACK after a SYN: tshark's iRTT is known."""

    irtt_ns: int
    """Time from the most recent SYN to this ACK (tshark ``tcp.analysis.initial_rtt``)."""


@dataclass(frozen=True, slots=True)
class ResetObserved(TrackerEvent):
    """A RST was seen."""

    sender: str
    """"client" or "server"."""
    acceptable: bool
    """Whether the receiver would accept it (RFC 9293 §3.10.7.4); an unacceptable one changes nothing."""
    refused: bool
    """True when it answers the client's SYN (connection refused)."""


@dataclass(frozen=True, slots=True)
class SegmentRetransmitted(TrackerEvent):
    """A packet tshark flags as a retransmission of any kind."""

    sender: str
    """"client" or "server"."""
    kind: str
    """"retransmission", "fast_retransmission" or "spurious_retransmission"."""


@dataclass(frozen=True, slots=True)
class ICMPErrorObserved(TrackerEvent):
    """An ICMP/ICMPv6 error quoting a segment of this connection."""

    icmp_type: int
    """ICMP type."""
    icmp_code: int
    """ICMP code."""
    sender_addr: str
    """Address that sent the ICMP error (the target, or a router/firewall on the way)."""


@dataclass(frozen=True, slots=True)
class AnomalyObserved(TrackerEvent):
    """Something a well-behaved TCP would not do, recorded and passed over."""

    name: str
    """Short name, e.g. "rst_out_of_window", "data_after_fin", "syn_after_close"."""
