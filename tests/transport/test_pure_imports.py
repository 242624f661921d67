"""The pure parts of transport/ and diag/ (and rawnet.testing) import no socket, subprocess, select,
scapy, psutil, click or rich (click's test_imports pattern): the I/O stays in raw.py, route.py, live.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE = ["rawnet.transport", "rawnet.transport.matcher", "rawnet.transport.bpf", "rawnet.transport.policy",
        "rawnet.transport.base", "rawnet.testing", "rawnet.diag.explain", "rawnet.diag.engine"]
BANNED = {"socket", "select", "subprocess", "scapy", "psutil", "click", "rich"}


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)}
    assert loaded & BANNED == set()
