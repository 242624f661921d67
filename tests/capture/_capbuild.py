"""Hand-built pcap and pcapng bytes (with struct, independent of rawnet's writers) and the
three-ways runner for streaming decoders (h11's ``tr()``)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

PCAP_US = 0xA1B2C3D4
PCAP_NS = 0xA1B23C4D
PCAP_MOD = 0xA1B2CD34


def pcap_header(order: str = "<", magic: int = PCAP_US, snaplen: int = 65535, linktype: int = 1) -> bytes:
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(order: str, sec: int, frac: int, data: bytes, wirelen: int | None = None,
                caplen: int | None = None, modified: bool = False) -> bytes:
    hdr = struct.pack(order + "IIII", sec, frac, len(data) if caplen is None else caplen,
                      len(data) if wirelen is None else wirelen)
    if modified:
        hdr += struct.pack(order + "IHBB", 3, 0x0800, 0, 0)
    return hdr + data


def pcap_file(order: str = "<", magic: int = PCAP_US, records: Sequence[tuple[int, int, bytes]] = (),
              linktype: int = 1, snaplen: int = 65535) -> bytes:
    out = pcap_header(order, magic, snaplen, linktype)
    for sec, frac, data in records:
        out += pcap_record(order, sec, frac, data, modified=magic == PCAP_MOD)
    return out


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * ((-len(value)) % 4)


def end_of_options(order: str) -> bytes:
    return struct.pack(order + "HH", 0, 0)


def block(order: str, btype: int, body: bytes, length: int | None = None, trailer: int | None = None) -> bytes:
    n = 12 + len(body) if length is None else length
    t = n if trailer is None else trailer
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", t)


def shb(order: str = "<", major: int = 1, bom: int = 0x1A2B3C4D, options: bytes = b"") -> bytes:
    body = struct.pack(order + "IHHq", bom, major, 0, -1) + options
    return block(order, 0x0A0D0D0A, body)


def idb(order: str = "<", linktype: int = 1, snaplen: int = 0, tsresol: int | None = None,
        tsoffset: int | None = None, name: str | None = None) -> bytes:
    opts = b""
    if name is not None:
        opts += option(order, 2, name.encode())
    if tsresol is not None:
        opts += option(order, 9, bytes([tsresol]))
    if tsoffset is not None:
        opts += option(order, 14, struct.pack(order + "q", tsoffset))
    if opts:
        opts += end_of_options(order)
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts)


def epb(order: str, ifid: int, units: int, data: bytes, wirelen: int | None = None, comment: str | None = None,
        caplen: int | None = None) -> bytes:
    body = struct.pack(order + "IIIII", ifid, units >> 32, units & 0xFFFFFFFF,
                       len(data) if caplen is None else caplen, len(data) if wirelen is None else wirelen)
    body += data + b"\0" * ((-len(data)) % 4)
    if comment is not None:
        body += option(order, 1, comment.encode()) + end_of_options(order)
    return block(order, 6, body)


def spb(order: str, data: bytes, wirelen: int | None = None) -> bytes:
    body = struct.pack(order + "I", len(data) if wirelen is None else wirelen) + data + b"\0" * ((-len(data)) % 4)
    return block(order, 3, body)


def pb(order: str, ifid: int, units: int, data: bytes) -> bytes:
    body = struct.pack(order + "HHIIII", ifid, 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
    return block(order, 2, body + data + b"\0" * ((-len(data)) % 4))


def nrb(order: str) -> bytes:
    rec = struct.pack(order + "HH", 1, 14) + bytes([198, 18, 0, 1]) + b"host.lab\0\0" + b"\0\0"
    return block(order, 4, rec + struct.pack(order + "HH", 0, 0))


def isb(order: str, ifid: int = 0) -> bytes:
    return block(order, 5, struct.pack(order + "III", ifid, 0, 0))


def custom(order: str) -> bytes:
    return block(order, 0x00000BAD, struct.pack(order + "I", 32473) + b"rawnet!\0")


def unknown(order: str) -> bytes:
    return block(order, 0x0000ABCD, b"\x01\x02\x03\x04\x05\x06\x07\x08")


def _drain(decoder: Any, chunks: Sequence[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        if chunk:  # an empty chunk would mean EOF
            out += decoder.feed(chunk)
    out += decoder.feed(b"")
    return out


def three_ways(make: Callable[[], Any], data: bytes) -> list[Any]:
    """Return the frames of ``data``, asserting the same result whole, byte by byte and split at every point."""
    whole = _drain(make(), [data])
    bytewise = _drain(make(), [data[i:i + 1] for i in range(len(data))])
    assert bytewise == whole
    for cut in range(len(data) + 1):
        assert _drain(make(), [data[:cut], data[cut:]]) == whole, f"split at {cut}"
    return whole


def until_error(make: Callable[[], Any], chunks: Sequence[bytes]) -> tuple[list[Any], Exception]:
    """Return the frames fed out before the decoder raised, and the error (it must raise)."""
    dec = make()
    out: list[Any] = []
    try:
        for chunk in chunks:
            if chunk:
                out += dec.feed(chunk)
        out += dec.feed(b"")
    except Exception as err:  # noqa: BLE001 - the caller checks the class
        return out, err
    raise AssertionError("the decoder did not raise")


def error_every_split(make: Callable[[], Any], data: bytes) -> tuple[list[Any], Exception]:
    """Return frames and error of ``data`` fed whole, asserting the same at every split point and byte by byte."""
    frames, err = until_error(make, [data])
    for chunks in ([data[i:i + 1] for i in range(len(data))],
                   *([data[:cut], data[cut:]] for cut in range(1, len(data)))):
        f2, e2 = until_error(make, chunks)
        assert f2 == frames
        assert (type(e2), str(e2)) == (type(err), str(err))
    return frames, err
