"""The raw-socket edges without a network: PermissionError from socket() becomes PrivilegeError
(exit 77, the setcap hint), through the swappable socket factory."""

from __future__ import annotations

import pytest

from rawnet.capture.live import LiveCapture
from rawnet.errors import PrivilegeError
from rawnet.transport.raw import L2Sender, L3Sender, PacketReceiver


def denied(*args: object) -> object:
    raise PermissionError(1, "Operation not permitted")


@pytest.mark.parametrize(("make", "operation"), [
    (lambda: L3Sender(4, socket_factory=denied), "opening a raw IPv4 socket"),
    (lambda: L3Sender(6, socket_factory=denied), "opening a raw IPv6 socket"),
    (lambda: PacketReceiver("eth0", None, socket_factory=denied), "opening an AF_PACKET socket"),
    (lambda: L2Sender("eth0", socket_factory=denied), "opening an AF_PACKET socket"),
    (lambda: LiveCapture("eth0", socket_factory=denied), "opening an AF_PACKET socket"),
])
def test_permission_error_becomes_privilege_error(make, operation: str) -> None:
    with pytest.raises(PrivilegeError) as ei:
        make()
    err = ei.value
    assert (err.capability, err.operation, err.exit_code) == ("CAP_NET_RAW", operation, 77)
    assert str(err).startswith(f"{operation} needs CAP_NET_RAW; run as root, or: sudo setcap cap_net_raw+ep /")
    assert isinstance(err.__cause__, PermissionError)
