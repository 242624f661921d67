"""files.py: format sniffing, gzip, stdin, CaptureInfo, chunking, the raw-record fast path."""

from __future__ import annotations

import gzip
import shutil
import io
import subprocess
import sys
from pathlib import Path

import pytest
from _capbuild import PCAP_NS, PCAP_US, epb, idb, pcap_file, pcap_record, shb

from rawnet.capture import CaptureReader, Frame, iter_frames, iter_records, open_capture, sniff_format
from rawnet.errors import CaptureFormatError, TruncatedCaptureError

ROOT = Path(__file__).resolve().parents[2]
P1 = bytes(range(60))
P2 = b"\x60" + bytes(53)
RECS = [(1700000000, 1, P1), (1700000001, 2, P2)]
PCAP = pcap_file("<", PCAP_US, RECS)
PCAPNG = shb() + idb(linktype=101, tsresol=9) + epb("<", 0, 1700000000_000000007, P1, comment="hi") \
    + epb("<", 0, 1700000001_000000008, P2)
EXPECT_PCAP = [Frame(1700000000_000001000, 1, P1, 60), Frame(1700000001_000002000, 1, P2, 54)]
EXPECT_PCAPNG = [Frame(1700000000_000000007, 101, P1, 60, 0, "hi"), Frame(1700000001_000000008, 101, P2, 54)]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(("data", "expect"), [(PCAP, EXPECT_PCAP), (PCAPNG, EXPECT_PCAPNG)], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 20])
def test_iter_frames_formats_gzip_and_chunk_sizes(tmp_path: Path, data: bytes, expect: list[Frame],
                                                   compress: bool, chunk_size: int) -> None:
    p = write(tmp_path, "c.gz" if compress else "c", gzip.compress(data) if compress else data)
    assert list(iter_frames(p, chunk_size)) == expect
    assert list(iter_frames(str(p), chunk_size)) == expect


def test_open_capture_info_before_and_after_reading(tmp_path: Path) -> None:
    p = write(tmp_path, "x.pcap.gz", gzip.compress(pcap_file(">", PCAP_NS, RECS, linktype=113, snaplen=96)))
    with open_capture(p) as r:
        info = r.info
        assert (info.format, info.compressed, info.byte_order, info.snaplen, info.ts_units_per_s,
                info.linktypes, info.records) == ("pcap", "gzip", "big", 96, 1_000_000_000, [113], 0)
        assert [f.ts_ns for f in r] == [1700000000_000000001, 1700000001_000000002]
        assert (info.records, r.records_read) == (2, 2)


def test_pcapng_info_grows_while_reading(tmp_path: Path) -> None:
    p = write(tmp_path, "x.pcapng", PCAPNG)
    r = open_capture(p)
    assert (r.info.format, r.info.linktypes) == ("pcapng", [])
    list(r)
    assert (r.info.byte_order, r.info.linktypes, r.info.ts_units_per_s, r.info.records) == (
        "little", [101], 1_000_000_000, 2)
    r.close()


def test_a_reader_iterates_once(tmp_path: Path) -> None:
    with open_capture(write(tmp_path, "x.pcap", PCAP)) as r:
        assert len(list(r)) == 2
        with pytest.raises(ValueError, match="iterated only once"):
            list(r)


def test_iter_records_fast_path(tmp_path: Path) -> None:
    for name, data, expect in (("a.pcap", PCAP, EXPECT_PCAP), ("b.pcapng", PCAPNG, EXPECT_PCAPNG)):
        p = write(tmp_path, name, data)
        got = [(ts, lt, cap, wire, bytes(buf[off:off + cap])) for ts, lt, cap, wire, buf, off in iter_records(p)]
        assert got == [(f.ts_ns, f.linktype, f.caplen, f.wirelen, f.data) for f in expect]


def test_file_object_source() -> None:
    assert list(iter_frames(io.BytesIO(PCAP))) == EXPECT_PCAP
    r = CaptureReader(io.BytesIO(PCAPNG), "mem")
    assert [f.comment for f in r] == ["hi", None]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "x.bin: at byte 0: empty file (not a pcap or pcapng file)"),
    (b"# Source\n", "x.bin: at byte 0: not a pcap or pcapng file (magic 0x2320536f)"),
    (b"\x0a\x0d", "x.bin: at byte 0: not a pcap or pcapng file (magic 0x0a0d)"),
    (gzip.compress(b"hello world"), "x.bin: at byte 0: not a pcap or pcapng file (magic 0x68656c6c)"),
], ids=["empty", "text", "short", "gzip-text"])
def test_not_a_capture(tmp_path: Path, data: bytes, message: str) -> None:
    p = write(tmp_path, "x.bin", data)
    with pytest.raises(CaptureFormatError) as exc:
        list(iter_frames(p))
    assert str(exc.value).endswith(message)
    assert exc.value.offset == 0


def test_truncated_file_yields_good_frames_then_raises(tmp_path: Path) -> None:
    data = PCAP + pcap_record("<", 9, 9, bytes(200))[:100]
    p = write(tmp_path, "cut.pcap", data)
    got: list[Frame] = []
    with pytest.raises(TruncatedCaptureError) as exc:
        for f in iter_frames(p, chunk_size=7):
            got.append(f)
    assert got == EXPECT_PCAP
    assert (exc.value.offset, exc.value.records_read) == (len(PCAP), 2)
    assert str(exc.value) == (f"{p}: record 3 is cut short (caplen 200, needs 216 bytes, 100 present, "
                              f"116 missing) at byte {len(PCAP)}; 2 records read")


def test_truncated_header_raises_at_open(tmp_path: Path) -> None:
    with pytest.raises(TruncatedCaptureError) as exc:
        open_capture(write(tmp_path, "h.pcap", PCAP[:20]))
    assert (exc.value.offset, exc.value.records_read) == (0, 0)


def test_cut_gzip_stream(tmp_path: Path) -> None:
    z = gzip.compress(PCAP + PCAP[24:] * 20, compresslevel=1)
    p = write(tmp_path, "cut.pcap.gz", z[:-12])  # the gzip trailer and a little data are gone
    n = 0
    with pytest.raises(TruncatedCaptureError) as exc:
        for _ in iter_frames(p):
            n += 1
    assert n == exc.value.records_read
    assert 30 <= n <= 42


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    z = bytearray(gzip.compress(PCAP * 3))
    z[12:20] = b"\xff" * 8
    with pytest.raises(CaptureFormatError, match="gzip stream is corrupt"):
        list(iter_frames(write(tmp_path, "bad.gz", bytes(z))))


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    p = write(tmp_path, "two.gz", gzip.compress(PCAP[:50]) + gzip.compress(PCAP[50:]))
    assert list(iter_frames(p)) == EXPECT_PCAP


def test_sniff_format() -> None:
    assert [sniff_format(PCAP), sniff_format(PCAPNG), sniff_format(b"\x1f\x8b\x08"), sniff_format(b"abcd"),
            sniff_format(pcap_file(">", PCAP_NS))] == ["pcap", "pcapng", "gzip", None, "pcap"]


_STDIN_SCRIPT = """
import sys
from rawnet.capture import open_capture
with open_capture("-") as r:
    frames = list(r)
    print(r.info.format, r.info.compressed, len(frames), frames[0].ts_ns, frames[-1].caplen, frames[0].comment)
"""


@pytest.mark.parametrize(("data", "expected"), [
    (PCAP * 1 + PCAP[24:] * 999, "pcap None 2000 1700000000000001000 54 None"),
    (gzip.compress(PCAP + PCAP[24:] * 999), "pcap gzip 2000 1700000000000001000 54 None"),
    (PCAPNG, "pcapng None 2 1700000000000000007 54 hi"),
    (gzip.compress(PCAPNG), "pcapng gzip 2 1700000000000000007 54 hi"),
], ids=["pcap", "pcap-gzip", "pcapng", "pcapng-gzip"])
def test_stdin_through_a_pipe(data: bytes, expected: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _STDIN_SCRIPT], input=data, capture_output=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == expected


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
def test_tcpdump_pipe_to_stdin() -> None:
    """``tcpdump -w - | reader -``: the shape of ``tcpdump -w - | rawnet pcap flows -``."""
    capture = ROOT / "captures" / "tcp-lossy.pcap"
    script = ("from rawnet.capture import iter_frames\n"
              "frames = list(iter_frames('-', chunk_size=4096))\n"
              "print(len(frames), sum(f.wirelen for f in frames))")
    tcpdump = subprocess.Popen(["tcpdump", "-r", str(capture), "-w", "-"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        proc = subprocess.run([sys.executable, "-c", script], stdin=tcpdump.stdout, capture_output=True, cwd=ROOT,
                              timeout=60)
    finally:
        assert tcpdump.stdout is not None
        tcpdump.stdout.close()
        tcpdump.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    expected = [f.wirelen for f in iter_frames(capture)]
    assert proc.stdout.decode().split() == [str(len(expected)), str(sum(expected))]
