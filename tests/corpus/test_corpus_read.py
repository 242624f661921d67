"""Every file of the tcpdump regression corpus is read without a crash or hang, and rawnet sees the
same frames as tshark (the oracle).

Rules checked per file:
- ``iter_frames`` raises nothing but a rawnet ``DecodeError`` subclass, within 10 s (``signal.alarm``);
  a file that ends inside a record yields its good frames before ``TruncatedCaptureError``.
- The frame count equals ``tshark -r F -T fields -e frame.number | wc -l``, and frame by frame the
  timestamp (exact ns), ``frame.len`` and ``frame.cap_len`` equal rawnet's ``ts_ns``, ``wirelen``
  and ``caplen`` (one tshark run gives all three), except for the files listed below.
- When tshark refuses the file because it does not know its linktype ("network type N unknown or
  unsupported": brcm-tag-prepend, dsa-high-vid, edsa-high-vid, edsa, the three juniper files,
  vtp_asan, vtp_asan-3), tshark prints 0 frames although the file is well-formed; there the oracle
  is libpcap instead: ``tcpdump -r F --count``. Linktypes pass through rawnet's reader untouched.
- When tshark fails for another reason (e.g. SOURCE.md, which is not a capture), rawnet must raise a
  ``DecodeError`` too and must have yielded exactly the frames tshark printed before it gave up.

tshark runs once per file, in a small thread pool started by the first test (about 0.2 s of CPU per
file: 60-130 s for the corpus on two busy cores); its output is kept in the pytest cache, keyed by
file size, mtime and tshark version, so later runs take a few seconds. The tests stay independent
(xdist-friendly); ``pytest --cache-clear`` forces tshark to run again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType

import pytest

from rawnet.capture import Frame, iter_frames
from rawnet.errors import DecodeError, TruncatedCaptureError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "tcpdump"
FILES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []
TIME_LIMIT_S = 10
UNKNOWN_LINKTYPE = "unknown or unsupported"
FIELDS = ("frame.time_epoch", "frame.len", "frame.cap_len")

# Files where tshark's per-frame values differ from the record on disk, on purpose:
TS_DIFFERS = {
    # ts_usec of 1000000 and 2147483648: rawnet normalises (sec * 10**9 + usec * 1000); tshark prints the
    # raw fraction ("370.1000000000") and overflows a 32-bit nanosecond field for the second one.
    "timestamp_invalid_micro.pcap": {1, 2},
    # ts_usec 3841916976 (record with caplen 0): same normalisation against tshark's overflow.
    "rx_serviceid_oobr.pcap": {1},
}
LEN_DIFFERS = {
    # SunATM (linktype 123): Wireshark's wiretap strips the 4-byte pseudo-header from both lengths;
    # rawnet hands the whole record to the codec.
    "atm-heapoverflow.pcap": {0},
}

Row = tuple[str, int, int]


class _Oracle:
    """tshark results per file name, computed in the background by a few worker threads."""

    def __init__(self, corpus: Path, cache: pytest.Cache, version: str) -> None:
        self.corpus = corpus
        self.cache = cache
        self.version = version
        self.pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
        self.futures: dict[str, Future[tuple[list[Row], int, str]]] = {
            name: self.pool.submit(self._tshark, name) for name in FILES}

    def _tshark(self, name: str) -> tuple[list[Row], int, str]:
        st = (self.corpus / name).stat()
        key = f"rawnet/tshark-frames/{name}"
        stamp = [st.st_size, st.st_mtime_ns, self.version, list(FIELDS)]
        cached = self.cache.get(key, None)
        if cached is not None and cached[:4] == stamp:
            return [tuple(r) for r in cached[4]], cached[5], cached[6]  # type: ignore[misc]
        args = ["tshark", "-n", "-r", str(self.corpus / name), "-T", "fields"]
        for f in FIELDS:
            args += ["-e", f]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        errors = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("Running as user"))
        rows = [_row(line) for line in proc.stdout.splitlines()]
        self.cache.set(key, [*stamp, rows, proc.returncode, errors])
        return rows, proc.returncode, errors

    def result(self, name: str) -> tuple[list[Row], int, str]:
        return self.futures[name].result(timeout=300)


def _row(line: str) -> Row:
    epoch, wirelen, caplen = (line.split("\t") + ["", "", ""])[:3]
    return epoch, int(wirelen or -1), int(caplen or -1)


def epoch_to_ns(text: str) -> int:
    """Return tshark's ``frame.time_epoch`` text ("1418145369.999999000") as integer nanoseconds."""
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


@pytest.fixture(scope="module")
def oracle(corpus_dir: Path, tshark: str, pytestconfig: pytest.Config) -> Iterator[_Oracle]:
    assert pytestconfig.cache is not None
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True, timeout=60).stdout.split("\n")[0]
    o = _Oracle(corpus_dir, pytestconfig.cache, version)
    yield o
    o.pool.shutdown(wait=True, cancel_futures=True)


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout(f"reading took longer than {TIME_LIMIT_S} s")


def read_frames(path: Path) -> tuple[list[Frame], DecodeError | None]:
    """Return the frames read and the DecodeError that ended the read, if any (10 s limit)."""
    frames: list[Frame] = []
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        for frame in iter_frames(path):
            assert frame.caplen == len(frame.data)
            frames.append(frame)
    except DecodeError as err:
        return frames, err
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return frames, None


def tcpdump_count(path: Path) -> int:
    """Return libpcap's frame count (``tcpdump -r F --count``) for files tshark cannot open."""
    proc = subprocess.run(["tcpdump", "-r", str(path), "--count"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[0])


def test_corpus_is_there(corpus_dir: Path) -> None:
    assert len(FILES) >= 400


def test_every_file_reads_or_raises_decode_error(corpus_dir: Path) -> None:
    """Without the oracle: no crash, no hang, and only SOURCE.md (not a capture) is rejected."""
    rejected = {}
    total = 0
    for name in FILES:
        frames, err = read_frames(corpus_dir / name)
        total += len(frames)
        if err is not None:
            rejected[name] = str(err)
    assert rejected == {"SOURCE.md": f"{corpus_dir / 'SOURCE.md'}: at byte 0: not a pcap or pcapng file (magic 0x2320536f)"}
    assert total == 6166  # the frames of all 435 captures


@pytest.mark.needs_tshark
@pytest.mark.parametrize("name", FILES)
def test_read_like_tshark(name: str, corpus_dir: Path, oracle: _Oracle) -> None:
    path = corpus_dir / name
    frames, err = read_frames(path)
    rows, ts_rc, ts_errors = oracle.result(name)
    if UNKNOWN_LINKTYPE in ts_errors:
        # tshark lacks a dissector for the linktype and prints nothing; libpcap reads the file.
        assert shutil.which("tcpdump") is not None
        assert (len(frames), err) == (tcpdump_count(path), None)
        return
    if ts_rc != 0 or ts_errors:
        # tshark itself rejects the file: both must fail, after the same number of frames.
        assert err is not None, f"tshark failed ({ts_errors!r}) but rawnet read {len(frames)} frames cleanly"
    else:
        assert err is None, f"tshark read {len(rows)} frames cleanly, rawnet raised {err}"
    assert len(frames) == len(rows)
    ts_skip = TS_DIFFERS.get(name, set())
    len_skip = LEN_DIFFERS.get(name, set())
    for i, (f, (epoch, wirelen, caplen)) in enumerate(zip(frames, rows, strict=True)):
        if i not in ts_skip:
            assert f.ts_ns == epoch_to_ns(epoch), f"frame {i + 1}"
        if i not in len_skip:
            assert (f.wirelen, f.caplen) == (wirelen, caplen), f"frame {i + 1}"


def test_documented_differences_are_real(corpus_dir: Path) -> None:
    """The exceptions above are what the files hold, so the lists cannot go stale silently."""
    frames, _ = read_frames(corpus_dir / "timestamp_invalid_micro.pcap")
    assert [f.ts_ns for f in frames] == [1418145369_999999000, 1418145371_000000000, 1418147517_483648000]
    frames, _ = read_frames(corpus_dir / "rx_serviceid_oobr.pcap")
    assert [(f.ts_ns, f.caplen) for f in frames][1] == (3841_916976000, 0)
    frames, _ = read_frames(corpus_dir / "atm-heapoverflow.pcap")
    assert [(f.linktype, f.wirelen, f.caplen) for f in frames] == [(123, 262144, 4)]


@pytest.mark.parametrize("cut", [1, 17, 100])
def test_cut_corpus_file_yields_good_frames_first(tmp_path: Path, corpus_dir: Path, cut: int) -> None:
    """The largest pcap and pcapng files, cut short: every complete record comes out, then the error."""
    for name in ("pim-packet-assortment.pcap", "OSPFv2_Capture_FINAL.pcapng"):
        data = (corpus_dir / name).read_bytes()
        full, _ = read_frames(corpus_dir / name)
        p = tmp_path / name
        p.write_bytes(data[:-cut])
        frames, err = read_frames(p)
        assert isinstance(err, TruncatedCaptureError)
        assert frames == full[:-1]
        assert err.records_read == len(full) - 1
