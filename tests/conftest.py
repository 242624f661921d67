"""Shared fixtures: the privileged marker (skip, or fail under RAWNET_REQUIRE_PRIVILEGED=1), the lab,
tshark, and the hypothesis CI profile."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
CORPUS = ROOT.parent / "shared" / "corpus" / "tcpdump"
REQUIRE = os.environ.get("RAWNET_REQUIRE_PRIVILEGED") == "1"

settings.register_profile("ci", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail when RAWNET_REQUIRE_PRIVILEGED=1 (CI must run everything)."""
    if REQUIRE:
        pytest.fail(f"RAWNET_REQUIRE_PRIVILEGED=1 but: {reason}", pytrace=False)
    pytest.skip(reason)


def is_root() -> bool:
    return os.geteuid() == 0


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("privileged") and not is_root():
        skip_or_fail("needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN); run as root")
    if item.get_closest_marker("needs_tshark") and shutil.which("tshark") is None:
        skip_or_fail("needs tshark as the oracle (apt-get install tshark)")


@pytest.fixture
def lab() -> Iterator[object]:
    """A direct client<->server lab; always removed, even when the test fails."""
    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    lb = lab_up()
    try:
        yield lb
    finally:
        lb.down()


@pytest.fixture
def routed_lab() -> Iterator[object]:
    """A client<->router<->server lab; always removed, even when the test fails."""
    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    lb = lab_up(routed=True)
    try:
        yield lb
    finally:
        lb.down()


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of tshark, the oracle."""
    path = shutil.which("tshark")
    if path is None:
        skip_or_fail("needs tshark as the oracle (apt-get install tshark)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The tcpdump regression corpus beside the checkout."""
    if not CORPUS.is_dir():
        skip_or_fail(f"tcpdump corpus not found at {CORPUS}")
    return CORPUS
