"""docs/tcp-states.svg is generated from the transition table and kept up to date (scripts/make-state-diagram)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_diagram_is_up_to_date() -> None:
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "make-state-diagram"), "--check"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr


def test_diagram_names_every_state(tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "make-state-diagram"), "--out", str(out)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    texts = {t.text for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text")}
    from rawnet.tcp import TCPState

    assert {s.value for s in TCPState} <= texts
    assert {"snd_syn", "rcv_synack", "rcv_fin", "rcv_ack_of_fin"} <= texts
