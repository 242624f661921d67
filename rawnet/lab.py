"""Network lab: Linux network namespaces joined by veth pairs, for tests, captures and benchmarks.

Theory of operation: every lab gets a unique prefix (``rn<pid><n>``) so several labs can coexist,
its hosts are namespaces ``<prefix>-client``, ``<prefix>-server`` and optionally ``<prefix>-router``,
joined by veth pairs whose both ends live inside the namespaces (the root namespace is never
touched). Addresses come only from 198.18.0.0/15 and fd00::/8. Offloads are switched off so a
capture shows the packets the kernel really put on the wire. ``down()`` removes every namespace
and kills, by pid, every process the lab started. This is an edge module: it runs ``ip``, ``nft``,
``ethtool`` and ``sysctl`` and needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root).

Topologies:
  direct:  client eth0 198.18.0.1/24 fd00::1/64  <->  server eth0 198.18.0.2/24 fd00::2/64
  routed:  client eth0 198.18.1.2/24 fd00:1::2/64 <-> router eth0 198.18.1.1 fd00:1::1
           router eth1 198.18.2.1/24 fd00:2::1/64 <-> server eth0 198.18.2.2 fd00:2::2
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .errors import PrivilegeError, RawnetError

__all__ = ["Lab", "LabError", "lab_up", "list_labs", "netns_exists"]

_counter = itertools.count()
_CLONE_NEWNET = 0x40000000


class LabError(RawnetError):
    """A lab command failed: the command and what it printed."""

    exit_code = 71


def _run(args: Sequence[str], *, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Return the finished process for ``args``; raise LabError when ``check`` and it failed."""
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, input=input_text, timeout=30)
    except FileNotFoundError as err:
        raise LabError(f"lab: {args[0]} is not installed (apt-get install iproute2 nftables ethtool)") from err
    if check and proc.returncode != 0:
        raise LabError(f"lab: `{' '.join(args)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def netns_exists(name: str) -> bool:
    """Return True when a named network namespace exists."""
    return os.path.exists(f"/run/netns/{name}")


def list_labs() -> list[str]:
    """Return the prefixes of labs whose namespaces exist now."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return []
    return sorted({n.rsplit("-", 1)[0] for n in names if n.startswith("rn") and "-" in n})


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise PrivilegeError("CAP_SYS_ADMIN", "entering a network namespace", f"setns failed: {os.strerror(err)}; run as root")


@dataclass
class Lab:
    """A running lab: its prefix, host namespaces, addresses and the pids it started."""

    prefix: str
    routed: bool
    hosts: dict[str, str] = field(default_factory=dict)
    addrs: dict[tuple[str, int], str] = field(default_factory=dict)
    ifaces: dict[str, list[str]] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, host: str) -> str:
        """Return the namespace name of ``host`` ("client", "server" or "router")."""
        return self.hosts[host]

    def addr(self, host: str, family: int = 4) -> str:
        """Return the address of ``host`` on its main link for IP version ``family``."""
        return self.addrs[(host, family)]

    def exec_args(self, host: str, args: Sequence[str]) -> list[str]:
        """Return argv that runs ``args`` inside ``host``'s namespace."""
        return ["ip", "netns", "exec", self.hosts[host], *args]

    def run(self, host: str, args: Sequence[str], *, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Return the finished process of ``args`` run inside ``host``."""
        return _run(self.exec_args(host, args), check=check, input_text=input_text)

    def popen(self, host: str, args: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Return a process started inside ``host``; ``down()`` kills it by pid."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(self.exec_args(host, args), **kwargs)  # type: ignore[call-overload]
        self._procs.append(proc)
        self.pids.append(proc.pid)
        return proc

    @contextlib.contextmanager
    def inside(self, host: str) -> Iterator[None]:
        """Run the body with this thread in ``host``'s network namespace; sockets made there stay there."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.hosts[host]}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)
            os.close(target)

    def nft(self, host: str, rules: str) -> None:
        """Load an nft ruleset (text for ``nft -f -``) inside ``host``."""
        self.run(host, ["nft", "-f", "-"], input_text=rules)

    def nft_input_rule(self, host: str, rule: str) -> None:
        """Add ``rule`` to the input chain of table ``inet rawnet`` in ``host`` (created on first use)."""
        self._nft_chain(host, "input")
        self.run(host, ["nft", "add", "rule", "inet", "rawnet", "input", *rule.split()])

    def nft_output_rule(self, host: str, rule: str) -> None:
        """Add ``rule`` to the output chain of table ``inet rawnet`` in ``host``."""
        self._nft_chain(host, "output")
        self.run(host, ["nft", "add", "rule", "inet", "rawnet", "output", *rule.split()])

    def nft_forward_rule(self, host: str, rule: str) -> None:
        """Add ``rule`` to the forward chain of table ``inet rawnet`` in ``host`` (the router)."""
        self._nft_chain(host, "forward")
        self.run(host, ["nft", "add", "rule", "inet", "rawnet", "forward", *rule.split()])

    def nft_flush(self, host: str) -> None:
        """Remove rawnet's nft table from ``host``."""
        self.run(host, ["nft", "delete", "table", "inet", "rawnet"], check=False)

    def _nft_chain(self, host: str, hook: str) -> None:
        self.nft(host, f"table inet rawnet {{\n  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n  }}\n}}\n")

    def down(self) -> None:
        """Kill every process this lab started (by pid) and remove its namespaces."""
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        self._procs.clear()
        for ns in self.hosts.values():
            # processes we did not start but that live in the namespace (e.g. a forked child)
            pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _run(["ip", "netns", "del", ns], check=False)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PrivilegeError("CAP_NET_ADMIN and CAP_SYS_ADMIN", "creating a network lab", "run as root (sudo)")
    if shutil.which("ip") is None:
        raise LabError("lab: `ip` is not installed (apt-get install iproute2)")


def _link(lab: Lab, a: str, a_if: str, b: str, b_if: str) -> None:
    tmp_a, tmp_b = f"{lab.prefix}{a[0]}{b[0]}a", f"{lab.prefix}{a[0]}{b[0]}b"
    _run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b])
    _run(["ip", "link", "set", tmp_a, "netns", lab.hosts[a], "name", a_if])
    _run(["ip", "link", "set", tmp_b, "netns", lab.hosts[b], "name", b_if])
    lab.ifaces.setdefault(a, []).append(a_if)
    lab.ifaces.setdefault(b, []).append(b_if)


def _addr(lab: Lab, host: str, iface: str, v4: str, v6: str, *, main: bool = True) -> None:
    lab.run(host, ["ip", "addr", "add", v4, "dev", iface])
    lab.run(host, ["ip", "-6", "addr", "add", v6, "dev", iface, "nodad"])
    if main:
        lab.addrs[(host, 4)] = v4.split("/")[0]
        lab.addrs[(host, 6)] = v6.split("/")[0]


def lab_up(*, routed: bool = False, prefix: str | None = None, offloads: bool = False) -> Lab:
    """Return a running lab (direct client<->server, or client<->router<->server when ``routed``).

    Raises:
        PrivilegeError: not root.
        LabError: a command failed (the partial lab is removed first).
    """
    _require_root()
    if prefix is None:
        prefix = f"rn{os.getpid() % 100000}{next(_counter)}"
    if len(prefix) > 10:
        raise LabError(f"lab: prefix {prefix!r} is longer than 10 characters")
    lab = Lab(prefix=prefix, routed=routed)
    names = ["client", "server"] + (["router"] if routed else [])
    try:
        for host in names:
            ns = f"{prefix}-{host}"
            _run(["ip", "netns", "add", ns])
            lab.hosts[host] = ns
            lab.run(host, ["ip", "link", "set", "lo", "up"])
            lab.run(host, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"], check=False)
            lab.run(host, ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"], check=False)
        if not routed:
            _link(lab, "client", "eth0", "server", "eth0")
            _addr(lab, "client", "eth0", "198.18.0.1/24", "fd00::1/64")
            _addr(lab, "server", "eth0", "198.18.0.2/24", "fd00::2/64")
        else:
            _link(lab, "client", "eth0", "router", "eth0")
            _link(lab, "server", "eth0", "router", "eth1")
            _addr(lab, "client", "eth0", "198.18.1.2/24", "fd00:1::2/64")
            _addr(lab, "router", "eth0", "198.18.1.1/24", "fd00:1::1/64")
            _addr(lab, "router", "eth1", "198.18.2.1/24", "fd00:2::1/64", main=False)
            lab.addrs[("router", 42)] = "198.18.2.1"
            lab.addrs[("router", 62)] = "fd00:2::1"
            _addr(lab, "server", "eth0", "198.18.2.2/24", "fd00:2::2/64")
            lab.run("router", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            lab.run("router", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        for host, ifaces in lab.ifaces.items():
            for iface in ifaces:
                lab.run(host, ["ip", "link", "set", iface, "up"])
                if not offloads and shutil.which("ethtool"):
                    lab.run(host, ["ethtool", "-K", iface, "tx", "off", "rx", "off", "tso", "off",
                                   "gso", "off", "gro", "off"], check=False)
        if routed:
            lab.run("client", ["ip", "route", "add", "default", "via", "198.18.1.1"])
            lab.run("client", ["ip", "-6", "route", "add", "default", "via", "fd00:1::1"])
            lab.run("server", ["ip", "route", "add", "default", "via", "198.18.2.1"])
            lab.run("server", ["ip", "-6", "route", "add", "default", "via", "fd00:2::1"])
        for (host, fam), a in list(lab.addrs.items()):
            ipaddress.ip_address(a)  # sanity: every address parses
    except BaseException:
        lab.down()
        raise
    return lab


def down_prefix(prefix: str) -> None:
    """Remove every namespace of the lab with ``prefix`` (for `scripts/netlab down`)."""
    _require_root()
    lab = Lab(prefix=prefix, routed=False)
    for host in ("client", "server", "router"):
        if netns_exists(f"{prefix}-{host}"):
            lab.hosts[host] = f"{prefix}-{host}"
    lab.down()
