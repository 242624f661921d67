"""Vectorised conversation counting for a batch of frames (numpy), equal in result to feeding the
same frames one by one to ``ConversationTable.add``.

Theory of operation: the caller gives a buffer and the offsets, lengths and timestamps of the frames
in it. Fields are gathered for all frames at once; frames the vector path does not understand
(anything but Ethernet/raw IP carrying unfragmented TCP/UDP over IPv4 or IPv6 without extension
headers) are "fallback" frames. Frames are grouped by canonical 5-tuple with ``np.unique``. A group
is counted in bulk when the order of its packets cannot change the result: no fallback frame shares
its key, and either it is new with no bare SYN, or new and opened by its first packet, a bare SYN,
with every bare SYN of the group from that side with that ISN, or it continues a live flow and holds
no bare SYN. Every other group (originator swap, port reuse, fragments, ICMP, ...) and every
fallback frame goes through the sequential ``add_fields``/``add`` in frame order. Flow ids are
renumbered in order of first packet by ``ConversationTable.renumber()`` at the end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..packet.fast import flow_fields
from ..packet.stack import decode
from .table import ConversationTable

__all__ = ["add_batch"]


def _gather(a: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """Return an (n, k) array of the k bytes at each index (indices clipped into the buffer)."""
    idx = np.minimum(idx, len(a) - k)
    return a[idx[:, None] + np.arange(k)]


def _u16(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    idx = np.minimum(idx, len(a) - 2)
    return (a[idx].astype(np.int64) << 8) | a[idx + 1]


def _u32(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    idx = np.minimum(idx, len(a) - 4)
    return ((a[idx].astype(np.int64) << 24) | (a[idx + 1].astype(np.int64) << 16)
            | (a[idx + 2].astype(np.int64) << 8) | a[idx + 3])


def add_batch(table: ConversationTable, buf: bytes, offs: np.ndarray, caplens: np.ndarray, wirelens: np.ndarray,
              ts: np.ndarray, n0: int, linktype: int, errors: Any = None) -> None:
    """Count the frames ``buf[offs[i]:offs[i]+caplens[i]]`` (numbered from ``n0``) into ``table``."""
    count = len(offs)
    if count == 0:
        return
    a = np.frombuffer(buf, dtype=np.uint8)
    offs = offs.astype(np.int64)
    caplens = caplens.astype(np.int64)
    end = offs + caplens
    if linktype == 1:
        et = _u16(a, offs + 12)
        l3 = offs + 14
        tagged = (et == 0x8100) | (et == 0x88A8)
        et = np.where(tagged, _u16(a, offs + 16), et)
        l3 = np.where(tagged, l3 + 4, l3)
        ok = caplens >= 14 + 20 + 4 * tagged
    elif linktype in (101, 228, 229):
        v = a[np.minimum(offs, len(a) - 1)] >> 4
        if linktype == 228:
            v = np.where(v == 4, v, 0)
        elif linktype == 229:
            v = np.where(v == 6, v, 0)
        et = np.where(v == 4, 0x0800, np.where(v == 6, 0x86DD, 0))
        l3 = offs
        ok = caplens >= 20
    else:
        _sequential(table, buf, offs, caplens, wirelens, ts, n0, linktype, np.arange(count), errors)
        return
    b0 = a[np.minimum(l3, len(a) - 1)]
    is4 = ok & (et == 0x0800) & (b0 >> 4 == 4) & ((b0 & 15) >= 5)
    is6 = ok & (et == 0x86DD) & (b0 >> 4 == 6) & (l3 + 40 <= end)
    hl = (b0 & 15).astype(np.int64) * 4
    total4 = _u16(a, l3 + 2)
    frag4 = _u16(a, l3 + 6) & 0x3FFF
    proto4 = a[np.minimum(l3 + 9, len(a) - 1)]
    plen6 = _u16(a, l3 + 4)
    proto6 = a[np.minimum(l3 + 6, len(a) - 1)]
    is4 &= (frag4 == 0) & (total4 >= hl) & (l3 + hl <= end)
    is6 &= plen6 > 0
    proto = np.where(is4, proto4, proto6).astype(np.int64)
    l4 = np.where(is4, l3 + hl, l3 + 40)
    l4end = np.minimum(np.where(is4, l3 + total4, l3 + 40 + plen6), end)
    tcp = (proto == 6) & (l4 + 20 <= l4end)
    tcp &= (a[np.minimum(l4 + 12, len(a) - 1)] >> 4) >= 5
    udp = (proto == 17) & (l4 + 8 <= l4end)
    simple = (is4 | is6) & (tcp | udp)
    sidx = np.flatnonzero(simple)
    fidx = np.flatnonzero(~simple)
    # fallback frames: decoded one by one; remember their keys so their groups go sequential too
    fb_keys: set[tuple[Any, ...]] = set()
    fb_items: list[tuple[int, Any]] = []
    for i in fidx.tolist():
        o, c = int(offs[i]), int(caplens[i])
        ff = flow_fields(buf, o, c, linktype)
        if ff is None:
            pkt = decode(buf[o:o + c], linktype, strict=False)
            fb_items.append((i, pkt))
            net = pkt.network
            if net is not None:
                t = pkt.transport
                sp = getattr(t, "src_port", None)
                dp = getattr(t, "dst_port", None)
                fb_keys.add((pkt.protocol, net.src, sp, net.dst, dp))
        else:
            fb_items.append((i, ff))
            fb_keys.add((ff[0], ff[1], ff[2], ff[3], ff[4]))
    complex_idx: list[int] = []
    if len(sidx):
        s_l3, s_l4, s6 = l3[sidx], l4[sidx], is6[sidx]
        src = np.where(s6[:, None], _gather(a, s_l3 + 8, 16),
                       np.pad(_gather(a, s_l3 + 12, 4), ((0, 0), (12, 0))))
        dst = np.where(s6[:, None], _gather(a, s_l3 + 24, 16),
                       np.pad(_gather(a, s_l3 + 16, 4), ((0, 0), (12, 0))))
        ports = _gather(a, s_l4, 4)
        A = np.concatenate([src, ports[:, 0:2]], axis=1)
        B = np.concatenate([dst, ports[:, 2:4]], axis=1)
        diff = A != B
        first = diff.argmax(axis=1)
        rows = np.arange(len(sidx))
        src_lo = ~diff.any(axis=1) | (A[rows, first] < B[rows, first])
        lo = np.where(src_lo[:, None], A, B)
        hi = np.where(src_lo[:, None], B, A)
        head = np.stack([s6.astype(np.uint8), proto[sidx].astype(np.uint8)], axis=1)
        keys = np.ascontiguousarray(np.concatenate([head, lo, hi], axis=1))
        kv = keys.view(np.dtype((np.void, keys.shape[1]))).ravel()
        _, first_idx, inv = np.unique(kv, return_index=True, return_inverse=True)
        inv = inv.ravel()
        ngroups = len(first_idx)
        order = np.argsort(inv, kind="stable")
        sinv = inv[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sinv)) + 1]
        last_pos = np.r_[starts[1:], len(order)] - 1
        flags = a[np.minimum(s_l4 + 13, len(a) - 1)]
        syn = tcp[sidx] & ((flags & 0x12) == 0x02)
        seq = _u32(a, s_l4 + 4)
        # per group: SYN bookkeeping to decide whether bulk counting is exact
        g_syn = np.bincount(inv, weights=syn, minlength=ngroups) > 0
        first_is_syn = syn[first_idx]
        first_dir = src_lo[first_idx]
        syn_dir_other = np.bincount(inv, weights=syn & (src_lo != first_dir[inv]), minlength=ngroups) > 0
        syn_seq_first = seq[first_idx]
        syn_seq_other = np.bincount(inv, weights=syn & (seq != syn_seq_first[inv]), minlength=ngroups) > 0
        bulk_ok = ~g_syn | (first_is_syn & ~syn_dir_other & ~syn_seq_other)
        wl = wirelens[sidx].astype(np.int64)
        tss = ts[sidx].astype(np.int64)
        cnt = np.bincount(inv * 2 + src_lo, minlength=2 * ngroups).reshape(ngroups, 2)
        byt = np.bincount(inv * 2 + src_lo, weights=wl, minlength=2 * ngroups).reshape(ngroups, 2).astype(np.int64)
        ts_sorted = tss[order]
        tmin = np.minimum.reduceat(ts_sorted, starts)
        tmax = np.maximum.reduceat(ts_sorted, starts)
        last_idx = order[last_pos]
        live = table._live
        fi = first_idx
        fi_list = fi.tolist()
        gsyn_l = g_syn.tolist()
        ok_l = bulk_ok.tolist()
        cnt_l = cnt.tolist()
        byt_l = byt.tolist()
        tmin_l = tmin.tolist()
        tmax_l = tmax.tolist()
        seq_l = syn_seq_first.tolist()
        srclo_l = src_lo[fi].tolist()
        s6l = s6[fi].tolist()
        protol = proto[sidx][fi].tolist()
        gports = ports[fi].astype(np.int64)
        sp_l = ((gports[:, 0] << 8) | gports[:, 1]).tolist()
        dp_l = ((gports[:, 2] << 8) | gports[:, 3]).tolist()
        first_n_l = (sidx[fi] + n0).tolist()
        last_n_l = (sidx[last_idx] + n0).tolist()
        srcb = np.ascontiguousarray(src[fi]).tobytes()
        dstb = np.ascontiguousarray(dst[fi]).tobytes()
        complex_groups = []
        for g in range(ngroups):
            b16 = g * 16
            if s6l[g]:
                sa = srcb[b16:b16 + 16]
                da = dstb[b16:b16 + 16]
            else:
                sa = srcb[b16 + 12:b16 + 16]
                da = dstb[b16 + 12:b16 + 16]
            sp = sp_l[g]
            dp = dp_l[g]
            key = (protol[g], sa, sp, da, dp)
            if not ok_l[g] or (fb_keys and (key in fb_keys or (protol[g], da, dp, sa, sp) in fb_keys)):
                complex_groups.append(g)
                continue
            flow = live.get(key)
            if flow is not None:
                if gsyn_l[g]:
                    complex_groups.append(g)
                    continue
                # continue a live flow: direction relative to its originator
                a_is_lo = (flow.a_addr == sa and flow.a_port == sp) == srclo_l[g]
            else:
                flow = table._new(key[0], sa, sp, da, dp, first_n_l[g], tmin_l[g], False)
                a_is_lo = srclo_l[g]
                if gsyn_l[g]:
                    flow.syn_seq_a = seq_l[g]
            c = cnt_l[g]
            bb = byt_l[g]
            fwd_col = 1 if a_is_lo else 0
            flow.packets_fwd += c[fwd_col]
            flow.bytes_fwd += bb[fwd_col]
            flow.packets_rev += c[1 - fwd_col]
            flow.bytes_rev += bb[1 - fwd_col]
            if tmin_l[g] < flow.first_ts_ns:
                flow.first_ts_ns = tmin_l[g]
            if tmax_l[g] > flow.last_ts_ns:
                flow.last_ts_ns = tmax_l[g]
            ln = last_n_l[g]
            if ln > flow.last_n:
                flow.last_n = ln
        if complex_groups:
            cg = np.zeros(ngroups, dtype=bool)
            cg[complex_groups] = True
            complex_idx = sidx[cg[inv]].tolist()
    # sequential part, in frame order: complex groups' frames and fallback frames
    seq_items: list[tuple[int, Any]] = [(i, None) for i in complex_idx] + fb_items
    seq_items.sort(key=lambda x: x[0])
    for i, item in seq_items:
        o, c = int(offs[i]), int(caplens[i])
        n = n0 + i
        t, w = int(ts[i]), int(wirelens[i])
        if item is None:
            item = flow_fields(buf, o, c, linktype)
        if isinstance(item, tuple):
            table.add_fields(item[0], item[1], item[2], item[3], item[4], item[5], item[6], item[7], item[8], n, t, w)
        else:
            if item.error is not None and errors is not None:
                errors[f"{item.error.layer}: {item.error.reason}"] += 1
            table.add(item, n, t, w)


def _sequential(table: ConversationTable, buf: bytes, offs: np.ndarray, caplens: np.ndarray, wirelens: np.ndarray,
                ts: np.ndarray, n0: int, linktype: int, idx: np.ndarray, errors: Any) -> None:
    for i in idx.tolist():
        o, c = int(offs[i]), int(caplens[i])
        ff = flow_fields(buf, o, c, linktype)
        n, t, w = n0 + i, int(ts[i]), int(wirelens[i])
        if ff is not None:
            table.add_fields(ff[0], ff[1], ff[2], ff[3], ff[4], ff[5], ff[6], ff[7], ff[8], n, t, w)
        else:
            pkt = decode(buf[o:o + c], linktype, strict=False)
            if pkt.error is not None and errors is not None:
                errors[f"{pkt.error.layer}: {pkt.error.reason}"] += 1
            table.add(pkt, n, t, w)

