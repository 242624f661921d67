"""Every file of the tcpdump regression corpus is read without a crash or hang, and rawnet counts the
same frames as tshark (the oracle).

Rules checked per file:
- ``iter_frames`` raises nothing but a rawnet ``DecodeError`` subclass, within 10 s (``signal.alarm``);
  a file that ends inside a record yields its good frames before ``TruncatedCaptureError``.
- The frame count equals ``tshark -r F -T fields -e frame.number | wc -l``.
- When tshark refuses the file because it does not know its linktype ("network type N unknown or
  unsupported": brcm-tag-prepend, dsa-high-vid, edsa-high-vid, edsa, the three juniper files,
  vtp_asan, vtp_asan-3), tshark prints 0 frames although the file is well-formed; there the oracle
  is libpcap instead: ``tcpdump -r F --count``. Linktypes pass through rawnet's reader untouched.
- When tshark fails for another reason (e.g. SOURCE.md, which is not a capture), rawnet must raise a
  ``DecodeError`` too and must have yielded exactly the frames tshark printed before it gave up.

tshark runs once per file, in a small thread pool started by the first test (about 0.2 s of CPU per
file: 60-130 s for the corpus on two busy cores); its counts are kept in the pytest cache, keyed by
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

from rawnet.capture import iter_frames
from rawnet.errors import DecodeError, TruncatedCaptureError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "tcpdump"
FILES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []
TIME_LIMIT_S = 10
UNKNOWN_LINKTYPE = "unknown or unsupported"


class _Oracle:
    """tshark results per file name, computed in the background by a few worker threads."""

    def __init__(self, corpus: Path, cache: pytest.Cache, version: str) -> None:
        self.corpus = corpus
        self.cache = cache
        self.version = version
        self.pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
        self.futures: dict[str, Future[tuple[int, int, str]]] = {
            name: self.pool.submit(self._tshark, name) for name in FILES}

    def _tshark(self, name: str) -> tuple[int, int, str]:
        st = (self.corpus / name).stat()
        key = f"rawnet/tshark-count/{name}"
        stamp = [st.st_size, st.st_mtime_ns, self.version]
        cached = self.cache.get(key, None)
        if cached is not None and cached[:3] == stamp:
            return cached[3], cached[4], cached[5]
        proc = subprocess.run(["tshark", "-n", "-r", str(self.corpus / name), "-T", "fields", "-e", "frame.number"],
                              capture_output=True, text=True, timeout=60)
        errors = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("Running as user"))
        result = (len(proc.stdout.splitlines()), proc.returncode, errors)
        self.cache.set(key, [*stamp, *result])
        return result

    def result(self, name: str) -> tuple[int, int, str]:
        return self.futures[name].result(timeout=120)


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


def read_count(path: Path) -> tuple[int, DecodeError | None]:
    """Return the number of frames read and the DecodeError that ended the read, if any."""
    n = 0
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        for frame in iter_frames(path):
            assert frame.caplen == len(frame.data)
            n += 1
    except DecodeError as err:
        return n, err
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return n, None


def tcpdump_count(path: Path) -> int:
    """Return libpcap's frame count (``tcpdump -r F --count``) for files tshark cannot open."""
    proc = subprocess.run(["tcpdump", "-r", str(path), "--count"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[0])


def test_corpus_is_there(corpus_dir: Path) -> None:
    assert len(FILES) >= 400


@pytest.mark.needs_tshark
@pytest.mark.parametrize("name", FILES)
def test_read_like_tshark(name: str, corpus_dir: Path, oracle: _Oracle) -> None:
    path = corpus_dir / name
    count, err = read_count(path)
    ts_count, ts_rc, ts_errors = oracle.result(name)
    if UNKNOWN_LINKTYPE in ts_errors:
        # tshark lacks a dissector for the linktype and prints nothing; libpcap reads the file.
        assert shutil.which("tcpdump") is not None
        assert (count, err) == (tcpdump_count(path), None)
    elif ts_rc != 0 or ts_errors:
        # tshark itself rejects the file: both must fail, after the same number of frames.
        assert err is not None, f"tshark failed ({ts_errors!r}) but rawnet read {count} frames cleanly"
        assert count == ts_count
    else:
        assert err is None, f"tshark read {ts_count} frames cleanly, rawnet raised {err}"
        assert count == ts_count


@pytest.mark.parametrize("cut", [1, 17, 100])
def test_cut_corpus_file_yields_good_frames_first(tmp_path: Path, corpus_dir: Path, cut: int) -> None:
    """The largest pcap and pcapng files, cut short: every complete record comes out, then the error."""
    for name in ("pim-packet-assortment.pcap", "OSPFv2_Capture_FINAL.pcapng"):
        data = (corpus_dir / name).read_bytes()
        full, _ = read_count(corpus_dir / name)
        p = tmp_path / name
        p.write_bytes(data[:-cut])
        count, err = read_count(p)
        assert isinstance(err, TruncatedCaptureError)
        assert (count, err.records_read) == (full - 1, full - 1)
