"""Putting packets on the wire and pairing replies with probes.

Pure parts (re-exported here): the target policy, the send bounds, the reply matcher and the
hand-built BPF programs. Edges are reached as modules: ``rawnet.transport.raw`` (sockets),
``rawnet.transport.route`` (asks the kernel), ``rawnet.transport.privileges`` (reads /proc).
"""

from __future__ import annotations

from .matcher import Match as Match
from .matcher import Mismatch as Mismatch
from .matcher import MismatchRule as MismatchRule
from .matcher import Probe as Probe
from .matcher import ReplyKind as ReplyKind
from .matcher import ReplyMatcher as ReplyMatcher
from .policy import Bounds as Bounds
from .policy import check_target as check_target

__all__ = ["Match", "Mismatch", "MismatchRule", "Probe", "ReplyKind", "ReplyMatcher", "Bounds", "check_target"]
