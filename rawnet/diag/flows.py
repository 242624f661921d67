"""The conversation table of a live capture, with TCP states and the local process of each flow.

``LiveFlows`` (pure) feeds decoded packets to the package's ConversationTable (rawnet.flow) and
TCP tracker (rawnet.tcp); ``rows(owners)`` joins each flow with the owner of its local endpoint,
from a socket-table snapshot taken by ``socket_owners()`` (edge: rawnet.sockets).
"""

from __future__ import annotations

from typing import Any

from ..packet.stack import Packet

__all__ = ["LiveFlows", "socket_owners", "format_rows"]

Owners = dict[tuple[str, str, int], str]


class LiveFlows:
    """Conversation table plus TCP tracker over packets fed one by one."""

    def __init__(self) -> None:
        from ..flow import ConversationTable

        self.table = ConversationTable()
        try:
            from ..tcp import TCPTracker

            self.tracker: Any = TCPTracker(events=False)
        except ImportError:  # states are an extra; flows work without the tracker
            self.tracker = None
        self.n = 0

    def add(self, p: Packet, ts_ns: int, wirelen: int) -> None:
        """Count packet ``p`` (captured at ``ts_ns``, ``wirelen`` bytes on the wire); returns nothing."""
        self.n += 1
        res = self.table.add(p, self.n, ts_ns, wirelen)
        if res is None:
            return
        flow, forward = res
        if self.tracker is not None and p.tcp is not None:
            self.tracker.process(p, self.n, ts_ns, flow, forward)

    def rows(self, owners: Owners | None = None) -> list[dict[str, Any]]:
        """Return one dict per flow: the flow record, TCP state keys and ``owner`` of a local endpoint."""
        from ..flow import flow_record

        out = []
        for f in self.table.flows():
            rec = flow_record(f)
            if self.tracker is not None and f.proto == 6 and f.tcp is not None:
                keys = self.tracker.flow_keys(f)
                rec.update({k: keys[k] for k in ("conn_state", "client_state", "server_state", "history")})
            rec["owner"] = None
            if owners:
                proto = str(rec["proto"])
                for addr, port in ((rec["src"], rec["sport"]), (rec["dst"], rec["dport"])):
                    if port is None:
                        continue
                    who = owners.get((proto, addr, port)) or owners.get((proto, "*", port))
                    if who:
                        rec["owner"] = who
                        break
            out.append(rec)
        return out


def socket_owners() -> Owners:
    """Return {(proto, local address or "*", port): "pid/process"} for this namespace's sockets (edge)."""
    from ..errors import RawnetError

    try:
        from ..sockets import snapshot

        table = snapshot(processes=True)
    except (ImportError, RawnetError, OSError) as err:  # the owner column is best effort; say why in it
        return {("tcp", "*", 0): f"socket table unavailable: {err}"}
    owners: Owners = {}
    for e in table.entries:
        if e.pid is None:
            continue
        who = f"{e.pid}/{e.process or '?'}"
        wildcard = e.laddr in ("0.0.0.0", "::")
        owners[(e.proto, "*" if wildcard else e.laddr, e.lport)] = who
    return owners


def format_rows(rows: list[dict[str, Any]]) -> str:
    """Return the rows as an aligned text table."""
    def ep(a: object, p: object) -> str:
        a = str(a)
        host = f"[{a}]" if ":" in a else a
        return host if p is None else f"{host}:{p}"

    lines = [f"{'PROTO':<6} {'FROM':<28} {'TO':<28} {'PKTS':>6} {'BYTES':>8}  {'STATE':<28} OWNER"]
    for r in rows:
        state = ""
        if "conn_state" in r:
            state = f"{r['conn_state']} {r['client_state']}/{r['server_state']}"
        lines.append(f"{r['proto']!s:<6} {ep(r['src'], r['sport']):<28} {ep(r['dst'], r['dport']):<28} "
                     f"{r['packets_fwd'] + r['packets_rev']:>6} {r['bytes_fwd'] + r['bytes_rev']:>8}  "
                     f"{state:<28} {r['owner'] or '-'}")
    return "\n".join(lines)
