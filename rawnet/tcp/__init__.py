"""Sans-IO TCP observer: per-endpoint RFC 9293 states, Wireshark analysis flags, Zeek conn_state.

Public API: ``TCPTracker`` (process / process_icmp / finish / flow_keys / timeline / events),
``udp_flow_keys``, ``TCPState``, and the event classes.
"""

from __future__ import annotations

from .events import (AnomalyObserved as AnomalyObserved, HandshakeCompleted as HandshakeCompleted,
                     ICMPErrorObserved as ICMPErrorObserved, ResetObserved as ResetObserved,
                     SegmentRetransmitted as SegmentRetransmitted, StateChanged as StateChanged,
                     TrackerEvent as TrackerEvent)
from .state import TCPState as TCPState, TRANSITIONS as TRANSITIONS
from .tracker import TCPTracker as TCPTracker
from .zeek import udp_flow_keys as udp_flow_keys

__all__ = ["TCPTracker", "udp_flow_keys", "TCPState", "TRANSITIONS", "TrackerEvent", "StateChanged",
           "HandshakeCompleted", "ResetObserved", "SegmentRetransmitted", "ICMPErrorObserved",
           "AnomalyObserved"]
