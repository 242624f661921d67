"""scripts/bench_codec.py runs and prints its ratios (no timing assertions: speed is measured only
by the benchmark itself, STYLE.md §8)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_codec.py"


def test_bench_codec_quick() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, check=True,
                         timeout=120)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("rawnet codec benchmark: 20 packets (Ethernet/IPv4/TCP with options, crafted)")
    assert lines[1].split() == ["op", "rawnet", "pkt/s", "scapy", "pkt/s", "ratio", "target"]
    row = r"^{op}\s+[\d,]+\s+[\d,]+\s+\d+\.\dx\s+>= {target}x\s+(ok|BELOW TARGET)$"
    assert re.match(row.format(op="decode", target=30), lines[2]), lines[2]
    assert re.match(row.format(op="build", target=20), lines[3]), lines[3]
    assert (len(lines), out.stderr) == (4, "")


def test_bench_codec_on_a_capture() -> None:
    capture = Path(__file__).resolve().parents[2] / "captures" / "tcp-clean-fin.pcap"
    if not capture.exists():
        import pytest

        pytest.skip(f"{capture} not in this checkout")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--pcap", str(capture)], capture_output=True,
                         text=True, check=True, timeout=120)
    assert f"Ethernet/IPv4/TCP with options, {capture}" in out.stdout.splitlines()[0]
