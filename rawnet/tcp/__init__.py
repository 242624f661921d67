"""Sans-IO TCP observer: per-endpoint RFC 9293 states, Wireshark analysis flags, Zeek conn_state.

Public API: ``TCPTracker`` (process / process_icmp / finish / flow_keys / timeline / events),
``udp_flow_keys``, ``TCPState``, and the event classes.
"""

from __future__ import annotations

from .events import AnomalyObserved as AnomalyObserved
from .events import HandshakeCompleted as HandshakeCompleted
from .events import ICMPErrorObserved as ICMPErrorObserved
from .events import ResetObserved as ResetObserved
from .events import SegmentRetransmitted as SegmentRetransmitted
from .events import StateChanged as StateChanged
from .events import TrackerEvent as TrackerEvent
from .state import TRANSITIONS as TRANSITIONS
from .state import TCPState as TCPState
from .tracker import TCPTracker as TCPTracker
from .zeek import udp_flow_keys as udp_flow_keys

__all__ = [
                     "TRANSITIONS",
                     "AnomalyObserved",
                     "HandshakeCompleted",
                     "ICMPErrorObserved",
                     "ResetObserved",
                     "SegmentRetransmitted",
                     "StateChanged",
                     "TCPState",
                     "TCPTracker",
                     "TrackerEvent",
                     "udp_flow_keys",
]
