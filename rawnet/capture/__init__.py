"""Capture I/O: pcap and pcapng decoders (sans-IO), file/stream reading, and writers.

``from rawnet.capture import iter_frames`` is the usual entry point; see ``files.py`` for the
fast ``iter_records`` path. Live capture (``live.py``) is an edge module not imported here.
"""

from __future__ import annotations

from .files import CaptureReader as CaptureReader
from .files import iter_frames as iter_frames
from .files import iter_records as iter_records
from .files import open_capture as open_capture
from .files import sniff_format as sniff_format
from .frame import CaptureInfo as CaptureInfo
from .frame import Frame as Frame
from .frame import InterfaceInfo as InterfaceInfo
from .pcap import PcapDecoder as PcapDecoder
from .pcap import RawRecord as RawRecord
from .pcapng import PcapngDecoder as PcapngDecoder
from .writer import PcapngWriter as PcapngWriter
from .writer import PcapWriter as PcapWriter
from .writer import append_packet as append_packet
from .writer import open_pcap_for_append as open_pcap_for_append

__all__ = [
    "CaptureInfo",
    "CaptureReader",
    "Frame",
    "InterfaceInfo",
    "PcapDecoder",
    "PcapWriter",
    "PcapngDecoder",
    "PcapngWriter",
    "RawRecord",
    "append_packet",
    "iter_frames",
    "iter_records",
    "open_capture",
    "open_pcap_for_append",
    "sniff_format",
]
