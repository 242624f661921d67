"""captures/: every file documented in captures/README.md exists, is small, and rawnet and tshark
count the documented number of frames; a few files are checked frame by frame."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rawnet.capture import iter_frames, open_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
README = CAPTURES / "README.md"
_ROW = re.compile(r"^\| (?P<name>[\w.-]+\.pcap(?:ng)?) \| (?P<frames>\d+) \| (?P<bytes>\d+) \|", re.MULTILINE)
DOCUMENTED = {m["name"]: (int(m["frames"]), int(m["bytes"])) for m in _ROW.finditer(README.read_text())}


def test_readme_documents_every_capture() -> None:
    on_disk = {p.name for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng")}
    assert on_disk == set(DOCUMENTED)
    assert len(DOCUMENTED) == 14


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_capture_is_small_and_counted_as_documented(name: str) -> None:
    frames, size = DOCUMENTED[name]
    path = CAPTURES / name
    assert path.stat().st_size == size
    assert size < 1_000_000
    assert sum(1 for _ in iter_frames(path)) == frames


@pytest.mark.needs_tshark
@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_frame_count_equals_tshark(name: str, tshark: str) -> None:
    out = subprocess.run([tshark, "-n", "-r", str(CAPTURES / name), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert len(out.splitlines()) == DOCUMENTED[name][0]


def wirelens(name: str) -> list[int]:
    return [f.wirelen for f in iter_frames(CAPTURES / name)]


def test_clean_fin_frame_lengths() -> None:
    # SYN, SYN/ACK, ACK, request (80 bytes), ACK, response (1067 bytes), ACK, FIN, FIN, ACK
    assert wirelens("tcp-clean-fin.pcap") == [74, 74, 66, 146, 66, 1133, 66, 66, 66, 66]
    assert wirelens("tcp-ipv6.pcap") == [94, 94, 86, 166, 86, 1153, 86, 86, 86, 86]


def test_fragments_and_icmp_lengths() -> None:
    assert wirelens("ipv4-fragments.pcap") == [1514, 1514, 1082] * 4
    assert wirelens("icmp-echo.pcap") == [98] * 6
    assert wirelens("udp-request-response.pcap") == [52, 62] * 3
    assert wirelens("tcp-reject-icmp.pcap") == [74, 102] * 2


def test_every_pcap_is_ethernet_full_snaplen_microseconds() -> None:
    for name in DOCUMENTED:
        if name.endswith(".pcap"):
            with open_capture(CAPTURES / name) as r:
                assert (r.info.format, r.info.linktypes, r.info.snaplen, r.info.ts_units_per_s) == (
                    "pcap", [1], 262144, 1_000_000)


def test_two_interfaces_pcapng() -> None:
    with open_capture(CAPTURES / "mixed-two-interfaces.pcapng") as r:
        frames = list(r)
        info = r.info
    assert [(i.name, i.linktype, i.ts_units_per_s) for i in info.interfaces] == [
        ("eth0", 1, 1_000_000_000), ("eth1", 1, 1_000_000_000)]
    assert [f.interface for f in frames] == [0] * 12 + [1] * 12 + [0, 0, 1, 1]
    # each packet crossed the router: the same bytes are seen on both sides (MACs and TTL differ)
    assert [f.wirelen for f in frames[:12]] == [f.wirelen for f in frames[12:24]]
    assert frames[12].ts_ns < frames[11].ts_ns  # batches per interface: not in time order


SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make-captures"


def test_make_captures_lists_every_documented_scenario() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(DOCUMENTED)


def test_make_captures_rejects_unknown_scenario(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--only", "no-such"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == (64 if os.geteuid() == 0 else 77)


@pytest.mark.privileged
def test_make_captures_makes_real_captures(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--only", "tcp-refused",
                           "udp-request-response"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tcp-refused.pcap", "udp-request-response.pcap"]
    assert wirelens_of(tmp_path / "tcp-refused.pcap") == [74, 54]  # SYN, RST/ACK
    assert wirelens_of(tmp_path / "udp-request-response.pcap") == [52, 62] * 3


def wirelens_of(path: Path) -> list[int]:
    return [f.wirelen for f in iter_frames(path)]
