"""Writers: round trips through our reader and through tshark (the oracle), append mode."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from _capbuild import PCAP_NS, PCAP_US, pcap_file, pcap_record

from rawnet.capture import Frame, PcapngWriter, PcapWriter, iter_frames, open_pcap_for_append
from rawnet.errors import BuildError, CaptureFormatError, TruncatedCaptureError, UsageError

ETH = bytes.fromhex("020000000002020000000001080045000028000100004006f9cdc6120001c6120002")
FRAMES = [
    Frame(1700000000_123456789, 1, ETH + bytes(6), 60),
    Frame(1700000000_999999999, 1, ETH, 1514),
    Frame(1, 1, b"\x02" * 14, 14),
]


def tshark_fields(tshark: str, path: Path, *fields: str) -> list[list[str]]:
    args = [tshark, "-r", str(path), "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def epoch_to_ns(text: str) -> int:
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


@pytest.mark.parametrize("nanosecond", [False, True])
@pytest.mark.parametrize("byte_order", ["little", "big"])
def test_pcap_round_trip(nanosecond: bool, byte_order: str) -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, 1, nanosecond, byte_order=byte_order)
    for f in FRAMES:
        w.write(f)
    got = list(iter_frames(io.BytesIO(buf.getvalue())))
    expect = FRAMES if nanosecond else [Frame(f.ts_ns // 1000 * 1000, 1, f.data, f.wirelen) for f in FRAMES]
    assert got == expect
    assert w.records_written == 3


def test_pcap_header_bytes() -> None:
    buf = io.BytesIO()
    PcapWriter(buf, 101, nanosecond=True, snaplen=1500)
    assert buf.getvalue() == pcap_file("<", PCAP_NS, [], linktype=101, snaplen=1500)


def test_pcap_writer_cuts_to_snaplen_and_keeps_wirelen() -> None:
    buf = io.BytesIO()
    PcapWriter(buf, 1, snaplen=20).write(FRAMES[0])
    (f,) = iter_frames(io.BytesIO(buf.getvalue()))
    assert (f.data, f.wirelen) == (FRAMES[0].data[:20], 60)


def test_pcap_writer_refuses_other_linktype_and_bad_times() -> None:
    w = PcapWriter(io.BytesIO(), 1)
    with pytest.raises(BuildError, match="frame linktype 101 differs from the pcap file's linktype 1"):
        w.write(Frame(0, 101, b"", 0))
    with pytest.raises(BuildError, match="before 1970"):
        w.write(Frame(-1, 1, b"", 0))
    with pytest.raises(BuildError, match="after 2106"):
        w.write(Frame(2**32 * 1_000_000_000, 1, b"", 0))


def test_pcapng_round_trip_with_comments_and_interfaces() -> None:
    frames = [
        Frame(1700000000_123456789, 1, ETH, 60, 0, "first"),
        Frame(1700000000_223456789, 101, ETH[14:], 20, 1, None),
        Frame(1700000000_323456789, 1, ETH, 60, 0, "ünïcode"),
        Frame(5, 113, b"x", 1, 0, None),
    ]
    for order in ("little", "big"):
        buf = io.BytesIO()
        w = PcapngWriter(buf, byte_order=order, interface_names={0: "eth0"})
        for f in frames:
            w.write(f)
        got = list(iter_frames(io.BytesIO(buf.getvalue())))
        # each (interface, linktype) pair gets its own IDB, numbered in order of first use
        assert got == [Frame(f.ts_ns, f.linktype, f.data, f.wirelen, i, f.comment)
                       for f, i in zip(frames, [0, 1, 0, 2], strict=True)]


@pytest.mark.needs_tshark
@pytest.mark.parametrize("nanosecond", [False, True])
def test_tshark_reads_our_pcap(tmp_path: Path, tshark: str, nanosecond: bool) -> None:
    p = tmp_path / "w.pcap"
    with PcapWriter(p.open("wb"), 1, nanosecond) as w:
        for f in FRAMES:
            w.write(f)
    rows = tshark_fields(tshark, p, "frame.time_epoch", "frame.len", "frame.cap_len")
    unit = 1 if nanosecond else 1000
    assert [(epoch_to_ns(t), int(n), int(c)) for t, n, c in rows] == [
        (f.ts_ns // unit * unit, f.wirelen, f.caplen) for f in FRAMES]


@pytest.mark.needs_tshark
def test_tshark_reads_our_pcapng(tmp_path: Path, tshark: str) -> None:
    frames = [Frame(1700000000_123456789, 1, ETH, 60, 0, "hello"), Frame(1700000001_000000001, 101, ETH[14:], 20, 3),
              Frame(1700000002_000000005, 1, ETH + bytes(6), 60, 0, None)]
    p = tmp_path / "w.pcapng"
    with PcapngWriter(p.open("wb")) as w:
        for f in frames:
            w.write(f)
    rows = tshark_fields(tshark, p, "frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id",
                         "frame.comment")
    assert [(epoch_to_ns(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows] == [
        (1700000000_123456789, 60, 34, 0, "hello"), (1700000001_000000001, 20, 20, 1, ""),
        (1700000002_000000005, 60, 40, 0, "")]


def test_append_to_existing_pcap(tmp_path: Path) -> None:
    p = tmp_path / "a.pcap"
    p.write_bytes(pcap_file(">", PCAP_NS, [(7, 8, b"abc")], linktype=101))
    with open_pcap_for_append(p, 101) as w:
        assert (w.byte_order, w.nanosecond) == ("big", True)
        w.write(Frame(9_000000010, 101, b"defg", 4))
    assert [(f.ts_ns, f.data) for f in iter_frames(p)] == [(7_000000008, b"abc"), (9_000000010, b"defg")]


def test_append_creates_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "new.pcap"
    with open_pcap_for_append(p, 1) as w:
        w.write(FRAMES[2])
    with open_pcap_for_append(p, 1) as w:
        w.write(FRAMES[2])
    assert [f.ts_ns for f in iter_frames(p)] == [0, 0]  # microseconds: 1 ns rounds down to 0


def test_append_checks_linktype_format_and_truncation(tmp_path: Path) -> None:
    p = tmp_path / "a.pcap"
    p.write_bytes(pcap_file("<", PCAP_US, [(1, 2, b"abc")], linktype=1))
    with pytest.raises(UsageError, match="the file has linktype 1, not 101"):
        open_pcap_for_append(p, 101)
    q = tmp_path / "b.pcapng"
    q.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    with pytest.raises(CaptureFormatError, match="not a pcap file"):
        open_pcap_for_append(q, 1)
    good = pcap_file("<", PCAP_US, [(1, 2, b"abc")])
    c = tmp_path / "c.pcap"
    c.write_bytes(good + pcap_record("<", 3, 4, bytes(100))[:50])
    with pytest.raises(TruncatedCaptureError) as exc:
        open_pcap_for_append(c, 1)
    assert (exc.value.offset, exc.value.records_read) == (len(good), 1)
    assert c.read_bytes()[:len(good)] == good  # untouched


def test_append_packet_writes_encoded_codec_packets(tmp_path: Path) -> None:
    from rawnet.capture.writer import append_packet
    from rawnet.packet.stack import decode, encode

    raw = bytes.fromhex("020000000002020000000001080045000028000100004006f9cdc6120001c6120002"
                        "9c401f9000000001000000005002faf0e1e40000")
    pkt = decode(raw, 1)
    p = tmp_path / "built.pcap"
    append_packet(p, pkt, ts_ns=1700000000_000000001)
    append_packet(p, pkt)
    frames = list(iter_frames(p))
    assert [(f.ts_ns, f.linktype, f.data) for f in frames] == [
        (1700000000_000000001, 1, encode(pkt)), (0, 1, encode(pkt))]
    assert encode(pkt) == raw
