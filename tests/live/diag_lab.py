"""Helpers for the live diagnostic tests: nft rules and a listener inside a lab host.

(`Lab.nft_input_rule` feeds `nft -f -` a one-line table that nftables 1.0.6 rejects, so these tests
add their rules with one `nft add` command each.)
"""

from __future__ import annotations

import time

LISTENER = r"""
import socket, sys, time
socks = []
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for port in map(int, sys.argv[1].split(",")):
        s = socket.socket(fam)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port)); s.listen(64); socks.append(s)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[2])
import select
while time.monotonic() < end:
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        c, _ = s.accept()
        try:
            c.settimeout(0.5); data = c.recv(100)
            if data: c.sendall(b"echo:" + data)
        except OSError:
            pass
        c.close()
"""


def nft_rule(lab: object, host: str, hook: str, rule: str) -> None:
    """Add ``rule`` to chain ``hook`` of table ``inet rndiag`` in ``host`` (created on first use)."""
    run = lab.run  # type: ignore[attr-defined]
    run(host, ["nft", "add", "table", "inet", "rndiag"])
    run(host, ["nft", "add", "chain", "inet", "rndiag", hook,
               f"{{ type filter hook {hook} priority 0 ; policy accept ; }}"])
    run(host, ["nft", "add", "rule", "inet", "rndiag", hook, *rule.split()])


def listen(lab: object, host: str, ports: str, seconds: float = 120.0) -> None:
    """Start a TCP listener on ``ports`` (v4 and v6) inside ``host``, bounded to ``seconds``; wait until ready."""
    import subprocess

    proc = lab.popen(host, ["python3", "-c", LISTENER, ports, str(seconds)], stdout=subprocess.PIPE)  # type: ignore[attr-defined]
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.stdout.close()
    assert line.strip() == b"ready", line
    time.sleep(0.05)


MIXED = {"22": "open", "80": "closed", "81": "drop", "82": "reject", "83": "prohibit", "84": "reset"}


def plant_mixed(lab: object, host: str = "server", hook: str = "input") -> None:
    """Listener on 22; 81 dropped; 82 rejected with port unreachable; 83 admin-prohibited; 84 tcp reset."""
    listen(lab, host, "22")
    nft_rule(lab, host, hook, "tcp dport 81 drop")
    nft_rule(lab, host, hook, "tcp dport 82 reject")
    nft_rule(lab, host, hook, "tcp dport 83 reject with icmpx admin-prohibited")
    nft_rule(lab, host, hook, "tcp dport 84 reject with tcp reset")


def nft_clear(lab: object, host: str) -> None:
    """Remove table ``inet rndiag`` from ``host``."""
    lab.run(host, ["nft", "delete", "table", "inet", "rndiag"], check=False)  # type: ignore[attr-defined]
