"""Importing the pure core pulls in no I/O or heavy dependency (click's tests/test_imports.py pattern):
each module is imported in a fresh interpreter, which then reports the modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("socket", "_socket", "select", "selectors", "subprocess", "scapy", "psutil", "click", "rich")
REQUIRED = ["rawnet", "rawnet.packet", "rawnet.flow"]
# other pure modules the style guide names; checked when they exist in this checkout
OPTIONAL = ["rawnet.tcp", "rawnet.capture", "rawnet.capture.pcap", "rawnet.capture.pcapng", "rawnet.render.records",
            "rawnet.packet.craft", "rawnet.packet.text"]

_PROBE = """
import importlib, json, sys
try:
    importlib.import_module(sys.argv[1])
except ModuleNotFoundError as err:
    if err.name is not None and sys.argv[1].startswith(err.name):
        print(json.dumps({"missing": err.name}))
        raise SystemExit(0)
    raise
print(json.dumps({"modules": sorted(sys.modules)}))
"""


def _loaded(module: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _PROBE, module], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _offenders(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


@pytest.mark.parametrize("module", REQUIRED)
def test_core_imports_no_io(module: str) -> None:
    result = _loaded(module)
    assert "missing" not in result, result
    assert _offenders(result["modules"]) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("module", OPTIONAL)
def test_other_pure_modules_import_no_io(module: str) -> None:
    result = _loaded(module)
    if "missing" in result:
        pytest.skip(f"{module} is not in this checkout yet")
    assert _offenders(result["modules"]) == []  # type: ignore[arg-type]


def test_scapy_is_imported_only_by_the_bridge_when_used() -> None:
    code = ("import sys, rawnet.packet.scapy_bridge as b; before = 'scapy' in sys.modules; "
            "from rawnet.packet import decode; b.to_scapy(decode(bytes(20), 101, strict=False)); "
            "print(before, 'scapy.all' in sys.modules, 'scapy.layers.inet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]
