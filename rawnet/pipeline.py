"""The analysis pipeline: capture frames -> decode -> conversation table -> TCP tracker, in one pass.

This is where the edges meet the core: it reads files (through rawnet.capture) and feeds the pure
layers. ``analyze()`` is the full pass (every packet decoded; TCP tracked when asked);
``flows_fast()`` is the conversation-table-only pass on the codec's fast path, falling back to the
full decoder for any frame the fast path declines. Both return an ``Analysis``; a cut capture is
reported in ``Analysis.warning`` after every good packet was counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import os
import struct

from .capture.files import Source, open_capture
from .capture.frame import CaptureInfo
from .capture.pcap import max_caplen_for, parse_pcap_header
from .errors import CaptureFormatError, TruncatedCaptureError
from .flow.table import ConversationTable, Flow, flow_record
from .packet.fast import flow_fields
from .packet.stack import PROTO_NAMES, Packet, decode

__all__ = ["Analysis", "analyze", "flows_fast", "iter_packets", "PacketItem"]

ProgressFn = Callable[[int], None]


@dataclass
class Analysis:
    """What one pass over a capture found."""

    path: str
    table: ConversationTable
    tracker: Any = None
    packets: int = 0
    bytes: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    linktypes: Counter[int] = field(default_factory=Counter)
    protocols: Counter[str] = field(default_factory=Counter)
    protocol_bytes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, int] = field(default_factory=dict)
    warning: str | None = None
    fatal: CaptureFormatError | None = None
    info: Any = None

    def flows(self) -> list[Flow]:
        """Return every flow in order of first packet."""
        return self.table.flows()

    def flow_records(self) -> list[dict[str, Any]]:
        """Return the JSON-ready flow records, with TCP/UDP analysis keys when the tracker ran."""
        return [self.record(f) for f in self.flows()]

    def record(self, f: Flow) -> dict[str, Any]:
        """Return the JSON-ready record of one flow, with TCP/UDP analysis keys when the tracker ran."""
        rec = flow_record(f)
        tr = self.tracker
        if tr is not None:
            if f.proto == 6 and not f.echo:
                rec.update(tr.flow_keys(f))
            elif f.proto == 17:
                from .tcp import udp_flow_keys

                rec.update(udp_flow_keys(f))
        return rec


def _proto_label(p: Packet) -> str:
    if p.network is None:
        return "non-ip"
    proto = p.protocol
    if proto is None:
        return "ip"
    name = PROTO_NAMES.get(proto, f"ip-proto-{proto}")
    return f"{name}{'6' if p.ip_version == 6 and name in ('tcp', 'udp') else ''}"


@dataclass(slots=True)
class PacketItem:
    """One decoded packet with its capture metadata and, when tracked, its analysis flags."""

    n: int
    ts_ns: int
    wirelen: int
    caplen: int
    packet: Packet
    flow: Flow | None = None
    forward: bool = True
    analysis: list[str] | None = None


def _make_tracker() -> Any:
    from .tcp import TCPTracker

    return TCPTracker()


def iter_packets(source: Source, *, track: bool = False, result: Analysis | None = None,
                 progress: ProgressFn | None = None) -> Iterator[PacketItem]:
    """Return an iterator of decoded packets (lenient) with flows and, when ``track``, TCP analysis.

    A cut or corrupt capture ends the iteration after every good packet; the reason is put in
    ``result.warning`` / ``result.fatal`` when ``result`` is given, else raised.
    """
    reader = open_capture(source)
    res = result if result is not None else Analysis(reader.path, ConversationTable())
    res.path = reader.path
    res.info = reader.info
    table = res.table
    if track and res.tracker is None:
        res.tracker = _make_tracker()
    tracker = res.tracker if track else None
    n = 0
    try:
        with reader:
            for frame in reader:
                n += 1
                pkt = decode(frame.data, frame.linktype, strict=False)
                _account(res, pkt, frame.ts_ns, frame.wirelen, frame.linktype, n)
                r = table.add(pkt, n, frame.ts_ns, frame.wirelen)
                item = PacketItem(n, frame.ts_ns, frame.wirelen, len(frame.data), pkt)
                if r is not None:
                    item.flow, item.forward = r
                    if tracker is not None:
                        if pkt.tcp is not None:
                            item.analysis = tracker.process(pkt, n, frame.ts_ns, r[0], r[1])
                        elif pkt.quoted is not None:
                            _attach_icmp(table, tracker, pkt, n, frame.ts_ns)
                if progress is not None and n % 4096 == 0:
                    progress(n)
                yield item
    except TruncatedCaptureError as err:
        if result is None:
            raise
        res.warning = str(err)
    except CaptureFormatError as err:
        if result is None:
            raise
        res.fatal = err
    table.finish()
    if tracker is not None:
        tracker.finish()


def _attach_icmp(table: ConversationTable, tracker: Any, pkt: Packet, n: int, ts_ns: int) -> None:
    q = pkt.quoted
    if q is None or q.network is None or q.transport is None:
        return
    t = q.transport
    sport = getattr(t, "src_port", None)
    dport = getattr(t, "dst_port", None)
    if q.protocol != 6 or sport is None:
        return
    flow = table.lookup(6, q.network.src, sport, q.network.dst, dport)
    if flow is not None:
        tracker.process_icmp(pkt, n, ts_ns, flow)


def _account(res: Analysis, pkt: Packet, ts_ns: int, wirelen: int, linktype: int, n: int) -> None:
    res.packets += 1
    res.bytes += wirelen
    if res.first_ts_ns is None or ts_ns < res.first_ts_ns:
        res.first_ts_ns = ts_ns
    if res.last_ts_ns is None or ts_ns > res.last_ts_ns:
        res.last_ts_ns = ts_ns
    res.linktypes[linktype] += 1
    label = _proto_label(pkt)
    res.protocols[label] += 1
    res.protocol_bytes[label] += wirelen
    if pkt.error is not None:
        err = pkt.error
        key = f"{err.layer}: {err.reason}" if not err.reason.startswith("link type") else f"link: {err.reason}"
        res.errors[key] += 1
        res.error_examples.setdefault(key, n)


def analyze(source: Source, *, track: bool = True, progress: ProgressFn | None = None) -> Analysis:
    """Return the Analysis of a whole capture (full decode of every packet; TCP tracked when ``track``)."""
    import gc

    res = Analysis("", ConversationTable())
    # The pass allocates millions of short-lived acyclic objects (freed by reference counting) and keeps
    # every flow alive to the end, so the cyclic collector only rescans live state: pause it for the pass.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in iter_packets(source, track=track, result=res, progress=progress):
            pass
    finally:
        if was_enabled:
            gc.enable()
    return res


def flows_fast(source: Source, *, progress: ProgressFn | None = None, vectorized: bool = True) -> Analysis:
    """Return the Analysis of a capture's conversations only, on the codec's fast path.

    A plain pcap file is counted in vectorised batches (numpy); anything else (pcapng, gzip, stdin)
    frame by frame. The results are the same.
    """
    if vectorized and isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        with open(source, "rb") as fh:
            head = fh.read(24)
        try:
            hdr = parse_pcap_header(head, os.fspath(source))
        except CaptureFormatError:
            hdr = None
        if hdr is not None:
            return _flows_batched(os.fspath(source), hdr, progress)
    reader = open_capture(source)
    table = ConversationTable()
    res = Analysis(reader.path, table, info=reader.info)
    add = table.add_fields
    n = 0
    nbytes = 0
    first = last = None
    lts: Counter[int] = res.linktypes
    try:
        with reader:
            for ts, lt, caplen, wirelen, buf, off in reader.records():
                n += 1
                nbytes += wirelen
                if first is None:
                    first = last = ts
                elif ts > last:  # type: ignore[operator]
                    last = ts
                elif ts < first:
                    first = ts
                lts[lt] += 1
                ff = flow_fields(buf, off, caplen, lt)
                if ff is not None:
                    add(ff[0], ff[1], ff[2], ff[3], ff[4], ff[5], ff[6], ff[7], ff[8], n, ts, wirelen)
                else:
                    pkt = decode(buf[off:off + caplen], lt, strict=False)
                    if pkt.error is not None:
                        err = pkt.error
                        res.errors[f"{err.layer}: {err.reason}"] += 1
                    table.add(pkt, n, ts, wirelen)
                if progress is not None and not n & 0xFFF:
                    progress(n)
    except TruncatedCaptureError as err:
        res.warning = str(err)
    except CaptureFormatError as err:
        res.fatal = err
    table.finish()
    res.packets, res.bytes, res.first_ts_ns, res.last_ts_ns = n, nbytes, first, last
    return res


_BATCH_BYTES = 4 << 20


def _flows_batched(path: str, hdr: Any, progress: ProgressFn | None) -> Analysis:
    """Return the conversations of a plain pcap file, counted in numpy batches (see rawnet.flow.batch)."""
    import numpy as np

    from .flow.batch import add_batch

    table = ConversationTable()
    info = CaptureInfo()
    info.format = "pcap"  # type: ignore[attr-defined]
    res = Analysis(path, table, info=info)
    order = "<" if hdr.byte_order == "little" else ">"
    rec_len = struct.Struct(order + "I").unpack_from
    mult = 1 if hdr.nanosecond else 1000
    lt = hdr.linktype
    maxcap = max_caplen_for(lt)
    n = 0
    nbytes = 0
    first = last = None
    carry = b""
    file_off = 24
    with open(path, "rb") as fh:
        fh.seek(24)
        while True:
            chunk = fh.read(_BATCH_BYTES)
            buf = carry + chunk if carry else chunk
            if not buf:
                break
            pos = 0
            end = len(buf)
            offs: list[int] = []
            append = offs.append
            while pos + 16 <= end:
                caplen = rec_len(buf, pos + 8)[0]
                if caplen > maxcap:
                    res.fatal = CaptureFormatError(path, file_off + pos, f"record {n + len(offs) + 1} has caplen "
                                                   f"{caplen}, more than {maxcap}: the file is corrupt")
                    break
                if pos + 16 + caplen > end:
                    break
                append(pos + 16)
                pos += 16 + caplen
            if offs:
                o = np.array(offs, dtype=np.int64)
                a32 = np.frombuffer(buf, dtype=np.uint8)
                hdrs = a32[(o - 16)[:, None] + np.arange(16)].copy().view(order + "u4")
                ts = hdrs[:, 0].astype(np.int64) * 1_000_000_000 + hdrs[:, 1].astype(np.int64) * mult
                caplens = hdrs[:, 2].astype(np.int64)
                wirelens = hdrs[:, 3].astype(np.int64)
                add_batch(table, buf, o, caplens, wirelens, ts, n + 1, lt, res.errors)
                n += len(offs)
                nbytes += int(wirelens.sum())
                tmin, tmax = int(ts.min()), int(ts.max())
                first = tmin if first is None or tmin < first else first
                last = tmax if last is None or tmax > last else last
                res.linktypes[lt] += len(offs)
                if progress is not None:
                    progress(n)
            if res.fatal is not None:
                break
            carry = buf[pos:]
            file_off += pos
            if not chunk:
                if carry:
                    res.warning = (f"{path}: record {n + 1} at byte {file_off} is cut short "
                                   f"({len(carry)} bytes left); {n} records read")
                break
    table.finish()
    res.packets, res.bytes, res.first_ts_ns, res.last_ts_ns = n, nbytes, first, last
    return res
