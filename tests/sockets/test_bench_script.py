"""scripts/bench_sockets.py runs end to end on a few sockets (every script has a test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.privileged
def test_bench_sockets_small_run() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_sockets.py"), "--sockets", "200",
                        "--per-child", "100", "--repeat", "1", "--json"], capture_output=True, text=True, timeout=300)
    assert (r.returncode, r.stderr) == (0, "")
    out = json.loads(r.stdout)
    # 2 children x (50 connections = 100 sockets + 1 listener)
    assert (out["sockets_opened"], out["ss_rows"], out["rows"]) == (202, 202, {"psutil": 202, "diag": 202})
    assert set(out["seconds"]) == {
        "ss -tan", "ss -tanp", "rawnet sockets --json --tcp --no-processes", "rawnet sockets --json --tcp",
        "rawnet sockets --json --tcp --reader psutil", "python3 -c 'import rawnet.cli' (startup)",
        "python3 -c pass (interpreter start)", "psutil.net_connections('tcp') in-process",
        "snapshot(reader='diag', processes=False)", "snapshot(reader='diag')", "snapshot(reader='psutil')"}
    assert out["x_ss_tan"]["ss -tan"] == 1.0
