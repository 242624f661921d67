"""Every file in scripts/ is tested: each Python script answers --help, and every script is named by
some test file under tests/ (psutil's test_scripts.py::test_coverage). The diagnostic scripts also
run in the lab (root only)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
# known scripts (others add theirs; test_coverage below catches any script no test mentions)
KNOWN = ["netlab", "test", "make-captures", "portcheck", "handshake-latency", "capture-explain", "bench_probe.py",
         "bench_sockets.py", "bench_pcap.py", "bench_codec.py"]


def _scripts() -> list[Path]:
    return sorted(p for p in SCRIPTS.iterdir() if p.is_file() and not p.name.startswith("."))


def _is_python(p: Path) -> bool:
    first = p.read_text(errors="replace").split("\n", 1)[0]
    return p.suffix == ".py" or "python" in first


@pytest.mark.parametrize("script", [p.name for p in _scripts() if _is_python(p)])
def test_help(script: str) -> None:
    p = subprocess.run([sys.executable, str(SCRIPTS / script), "--help"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.lower().startswith("usage:")


def test_coverage() -> None:
    """Every script in scripts/ has a test: Python scripts get test_help above; any other script must be
    named (as ``scripts/NAME`` or ``"NAME"``) by a test file other than this one."""
    me = Path(__file__).resolve()
    texts = [t.read_text(errors="replace") for t in (ROOT / "tests").rglob("*.py") if t.resolve() != me]
    missing = [p.name for p in _scripts() if not _is_python(p)
               and not any(f"scripts/{p.name}" in txt or f'"{p.name}"' in txt for txt in texts)]
    assert missing == [], f"scripts without a test that names them: {missing}"


MINE = ["portcheck", "handshake-latency", "capture-explain", "bench_probe.py"]


@pytest.mark.parametrize("script", MINE)
def test_diagnostic_scripts_are_executable(script: str) -> None:
    import os

    assert os.access(SCRIPTS / script, os.X_OK)


# ------------------------------------------------------------------------------------- live (root)

@pytest.fixture(scope="module")
def lab_with_listener():
    from conftest import is_root, skip_or_fail

    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    sys.path.insert(0, str(ROOT / "tests"))
    from live.diag_lab import listen, nft_rule

    lab = lab_up()
    try:
        listen(lab, "server", "22")
        nft_rule(lab, "server", "input", "tcp dport 81 drop")
        yield lab
    finally:
        lab.down()


def _in(lab, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", lab.ns("client"), sys.executable, *argv], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.privileged
def test_portcheck_live(lab_with_listener) -> None:
    p = _in(lab_with_listener, str(SCRIPTS / "portcheck"), "--ports", "22,80,81", "--timeout", "0.3", "--json",
            "198.18.0.2", "fd00::2")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in p.stdout.splitlines()]
    assert [(r["host"], r["port"], r["state"]) for r in rows] == [
        (h, port, s) for h in ("198.18.0.2", "fd00::2") for port, s in ((22, "open"), (80, "closed"),
                                                                        (81, "filtered"))]


@pytest.mark.privileged
def test_handshake_latency_live(lab_with_listener) -> None:
    p = _in(lab_with_listener, str(SCRIPTS / "handshake-latency"), "198.18.0.2:22", "-n", "3", "--interval", "0.02",
            "--json")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x["verdict"] for x in lines[:3]] == ["completed"] * 3
    assert lines[3]["completed"] == 3 and 0 < lines[3]["min_ns"] <= lines[3]["median_ns"] <= lines[3]["max_ns"]


@pytest.mark.privileged
def test_capture_explain_live(lab_with_listener) -> None:
    lab = lab_with_listener
    proc = subprocess.Popen(["ip", "netns", "exec", lab.ns("client"), sys.executable, str(SCRIPTS / "capture-explain"),
                             "-i", "eth0", "--duration", "4", "-f", "tcp or icmp"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(1.5)
    connect = ("import socket\nfor p in (22, 80, 81):\n s = socket.socket(); s.settimeout(0.3)\n"
               " s.connect_ex(('198.18.0.2', p)); s.close()")
    lab.run("client", [sys.executable, "-c", connect])
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].endswith("0 dropped by the kernel")
    assert any("-> 198.18.0.2:22" in ln and "connected" in ln for ln in lines)
    assert any("-> 198.18.0.2:80" in ln and "refused: SYN answered by RST from 198.18.0.2" in ln for ln in lines)
    assert any("-> 198.18.0.2:81" in ln and "no answer to" in ln for ln in lines)


@pytest.mark.privileged
def test_bench_probe_quick_runs() -> None:
    from conftest import is_root, skip_or_fail

    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    p = subprocess.run([sys.executable, str(SCRIPTS / "bench_probe.py"), "--quick"], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "rawnet L2 sendmmsg" in p.stdout and "nmap -sS -p- -n -Pn" in p.stdout
    assert "65535 closed" not in p.stdout  # 4 ports listen, 1 is dropped
