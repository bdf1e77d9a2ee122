r"""Nested-dissection plan for the coherences of one mode (static geometry, numpy only).

A :class:`~jaxent.lindblad.operators.BandedLindbladian` couples $\rho_{mn}$ only to its lattice
neighbours. In the coordinates $d = m - n \ge 1$, $k = n$ of the lower triangle these are the
seven points $(d\pm1, k)$, $(d-1, k+1)$, $(d+1, k-1)$, $(d, k\pm1)$ (the last two only for gain
or loss jump operators): a 2-D nearest-neighbour stencil on the triangle
$d \ge 1,\ k \ge 0,\ d + k \le n - 1$, bordered by the populations $d = 0$. Hermiticity gives
the upper triangle, so the populations separate the problem and are the root of the
elimination (:class:`~jaxent.lindblad.solvers.NestedDissection`).

The triangle is embedded in the ``P x P`` box ``1 <= d <= P, 0 <= k < P`` (``P = n - 1``) and cut
recursively by lines of one node (George's nested dissection): a box is split across its longer
side by a separator line into two boxes, until boxes have at most ``leaf`` nodes a side. Each box
is a *front*: it eliminates its separator (a leaf: all of its nodes) given the Schur complements
of its two children on their rings, and passes its own Schur complement on to its ring (the
nodes around it that are not yet eliminated). Nodes outside the triangle, rings beyond the box
and boxes with no node in the triangle are dropped. Fronts of one depth form a *level*, padded to
common sizes so that each level is one batched (``vmap``-ed) elimination. Work ``O(n^3)``, memory
``O(n^2 log n)``, against ``O(n^4)`` for the diagonal-by-diagonal elimination.

Node numbering: interior node ``(d, k)`` is ``(d - 1) P + k``; population ``k`` is ``P^2 + k``;
``null = P^2 + n`` pads. A front's matrix entries are addressed as slots of the raveled stencil
coefficients ``(n_offsets, P + 1, n)`` (offset, ``d``, ``k``) followed by two extra slots, ``0``
and ``1`` (the solver appends them).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

#: the seven stencil offsets ``(dd, dk)``; equation at ``(d, k)`` reads ``y[d + dd, k + dk]``.
STENCIL = ((0, 0), (0, 1), (0, -1), (-1, 0), (-1, 1), (1, 0), (1, -1))


@dataclasses.dataclass(frozen=True, eq=False)
class Level:
    """One batched elimination step: ``B`` fronts padded to ``nE`` eliminated and ``nR`` ring
    nodes (front order: eliminated first, then ring).

    - ``elim``, ``ring``: ``(B, nE)``, ``(B, nR)`` node ids (``null`` pads);
    - ``src``: ``(B, nF, nF)`` the original matrix entries of each front (rows and columns of
      eliminated nodes) as coefficient slots (``zero``, ``one`` on padded eliminated slots);
    - ``child_mat``, ``child_vec``: ``(B, 2, nF, nF)`` and ``(B, 2, nF)`` positions of each
      front entry in the flat Schur complements / condensed right-hand sides of the previous
      level (its last slot is zero when the entry is not on that child's ring);
    - ``rho_row, rho_col, rho_ok``: ``(B, nE)`` the entry ``rho[m, k]`` of each eliminated node.
    """

    elim: np.ndarray
    ring: np.ndarray
    src: np.ndarray
    child_mat: np.ndarray
    child_vec: np.ndarray
    rho_row: np.ndarray
    rho_col: np.ndarray
    rho_ok: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.elim.shape[0], self.elim.shape[1], self.ring.shape[1]


@dataclasses.dataclass(frozen=True, eq=False)
class DissectionPlan:
    """Levels (depths of the tree) from the leaves to the root, each a tuple of groups of fronts
    with common padded sizes (fronts numbered across the groups in order); the root's ring is
    the populations ``0 .. n-1`` in order. ``offsets``: the stencil offsets used (indices into
    :data:`STENCIL`)."""

    n: int
    P: int
    offsets: tuple[int, ...]
    levels: tuple[tuple[Level, ...], ...]

    @property
    def null(self) -> int:
        return self.P * self.P + self.n

    @property
    def n_nodes(self) -> int:
        return self.null + 1

    @functools.cached_property
    def back_substitution(self):
        """Static gather indices for the downward sweep without scatters (so that JAX can
        transpose it): the solution is the flat vector ``Y = [0, y_populations, yE of the root
        level, ..., yE of the leaves]`` (each group's ``(B, nE)`` raveled). Returns
        ``(ring_pos, out_idx)``: per level and group the positions in ``Y`` of the ring nodes
        (always computed earlier in the sweep), and ``(n, n)`` positions of ``rho[m, k]`` for
        ``m > k`` (``0`` elsewhere)."""
        pos = np.zeros(self.n_nodes, dtype=np.int64)  # null -> 0 (the zero slot)
        pos[self.P * self.P + np.arange(self.n)] = 1 + np.arange(self.n)
        offset = 1 + self.n
        out_idx = np.zeros((self.n, self.n), dtype=np.int64)
        ring_pos: list[tuple[np.ndarray, ...] | None] = [None] * len(self.levels)
        for i in range(len(self.levels) - 1, -1, -1):
            ring_pos[i] = tuple(pos[g.ring] for g in self.levels[i])
            for g in self.levels[i]:
                flat = offset + np.arange(g.elim.size).reshape(g.elim.shape)
                pos[g.elim[g.rho_ok]] = flat[g.rho_ok]
                out_idx[g.rho_row[g.rho_ok], g.rho_col[g.rho_ok]] = flat[g.rho_ok]
                offset += g.elim.size
        return tuple(ring_pos), out_idx

    def flops(self) -> float:
        """Complex multiply-adds of the factorisation (padded sizes)."""
        total = 0.0
        for level in self.levels:
            for g in level:
                B, nE, nR = g.shape
                total += B * _front_cost(nE, nR)
        return total


def _node_ids(d, k, n, P):
    """Vectorised node id of ``(d, k)``; ``null`` outside the triangle."""
    d, k = np.asarray(d), np.asarray(k)
    null = P * P + n
    pop = (d == 0) & (k >= 0) & (k < n)
    inner = (d >= 1) & (d <= P) & (k >= 0) & (k < P) & (d + k <= n - 1)
    return np.where(pop, P * P + k, np.where(inner, (d - 1) * P + k, null))


def _box_nodes(d0, d1, k0, k1, n, P):
    d, k = np.meshgrid(np.arange(d0, d1), np.arange(k0, k1), indexing="ij")
    ids = _node_ids(d, k, n, P).ravel()
    return ids[ids != P * P + n]


def _ring_nodes(d0, d1, k0, k1, n, P):
    """Real nodes on the ring around the box ``[d0, d1) x [k0, k1)`` (top side first, in order of
    ``k``: for the root these are the populations)."""
    ks = np.arange(k0 - 1, k1 + 1)
    ds = np.arange(d0, d1)
    nk, nd = len(ks) - 1, len(ds)
    # top side, bottom side, left, right, in one call; the corners (d0-1, k0-1) and (d1, k1)
    # are not coupled to the box (no (1, 1) offset)
    d = np.concatenate([np.full(nk, d0 - 1), np.full(nk, d1), ds, ds])
    k = np.concatenate([ks[1:], ks[:-1], np.full(nd, k0 - 1), np.full(nd, k1)])
    ids = _node_ids(d, k, n, P)
    return ids[ids != P * P + n]


def _decode(ids, n, P):
    """``(d, k)`` of node ids (populations ``d = 0``)."""
    ids = np.asarray(ids)
    pop = ids >= P * P
    d = np.where(pop, 0, ids // P + 1)
    k = np.where(pop, ids - P * P, ids % P)
    return d, k


@functools.lru_cache(maxsize=32)
def dissection_plan(n: int, leaf: int = 4, offsets: tuple[int, ...] = tuple(range(7)),
                    max_groups: int = 3) -> DissectionPlan:
    """The nested-dissection plan for ``n`` Fock levels (cached). ``leaf``: largest side of an
    undivided box; ``offsets``: which :data:`STENCIL` offsets have nonzero coefficients;
    ``max_groups``: fronts of one depth are padded to at most this many common sizes."""
    if n < 2:
        raise ValueError(f"nested dissection needs n >= 2 Fock levels, got {n}")
    if leaf < 1:
        raise ValueError(f"leaf must be >= 1, got {leaf}")
    P = n - 1

    def shrink(b):
        # the bounding box of the box's nodes in the triangle d + k <= n - 1 (None if empty):
        # splitting it, rather than the box, keeps separators inside the triangle
        d0, d1, k0, k1 = b
        if d0 >= d1 or k0 >= k1 or d0 + k0 > n - 1:
            return None
        return (d0, min(d1, n - k0), k0, min(k1, n - d0))

    def halves(b):
        d0, d1, k0, k1 = b
        h, w = d1 - d0, k1 - k0
        if h >= w:
            mid = d0 + h // 2
            return (d0, mid, k0, k1), (mid + 1, d1, k0, k1), (mid, mid + 1, k0, k1)
        mid = k0 + w // 2
        return (d0, d1, k0, mid), (d0, d1, mid + 1, k1), (d0, d1, mid, mid + 1)

    # tree of boxes by depth: (d0, d1, k0, k1), each the bounding box of its triangle nodes
    root = shrink((1, P + 1, 0, P))
    assert root is not None  # n >= 2: the triangle has nodes
    depths = [[root]]
    while True:
        boxes = depths[-1]
        if max(max(b[1] - b[0], b[3] - b[2]) for b in boxes) <= leaf:
            break
        nxt = []
        for b in boxes:
            if max(b[1] - b[0], b[3] - b[2]) <= 1:
                continue
            lo, hi, _ = halves(b)
            nxt.extend(c for c in (shrink(lo), shrink(hi)) if c is not None)
        depths.append(nxt)

    levels: list[tuple[Level, ...]] = []
    prev_index: dict = {}
    prev_rings: list[np.ndarray] = []
    prev_layout = ([], 0, 0)
    for t in range(len(depths) - 1, -1, -1):
        fronts = []
        for b in depths[t]:
            kids = []
            # split exactly where the tree above split (every box of a depth but the last)
            if t + 1 < len(depths) and max(b[1] - b[0], b[3] - b[2]) > 1:
                lo, hi, sep = halves(b)
                kids = [prev_index[c] for c in (shrink(lo), shrink(hi)) if c in prev_index]
                elim = _box_nodes(*sep, n, P)
            else:
                elim = _box_nodes(*b, n, P)
            ring = _ring_nodes(*b, n, P)
            if t == 0:
                assert np.array_equal(ring, P * P + np.arange(n)), "root ring != populations"
            fronts.append((b, elim, ring, kids))
        groups = _size_groups([(len(f[1]), len(f[2])) for f in fronts], max_groups)
        fronts = [fronts[i] for g in groups for i in g]
        level, start = [], 0
        for g in groups:
            level.append(_group(fronts[start:start + len(g)], prev_rings, prev_layout, n, P,
                                offsets))
            start += len(g)
        levels.append(tuple(level))
        prev_index = {f[0]: i for i, f in enumerate(fronts)}
        prev_rings = [f[2] for f in fronts]
        # flat layout of this level's Schur complements and condensed right-hand sides: group
        # by group, each (B, nR, nR) / (B, nR) raveled, then one zero slot
        layout, s_off, r_off = [], 0, 0
        for grp in level:
            B, _, nR = grp.shape
            layout += [(s_off + b * nR * nR, r_off + b * nR, nR) for b in range(B)]
            s_off += B * nR * nR
            r_off += B * nR
        prev_layout = (layout, s_off, r_off)
    return DissectionPlan(n=n, P=P, offsets=tuple(offsets), levels=tuple(levels))


def _front_cost(nE: int, nR: int) -> float:
    return nE**3 / 3 + nE**2 * nR + nE * nR**2 + nR**2


def _size_groups(sizes: list[tuple[int, int]], max_groups: int, overhead: float = 3e5):
    """Partition fronts (``(nE, nR)`` sizes) into at most ``max_groups`` groups, contiguous in
    the order of ``(nR, nE)``, minimising the padded work plus ``overhead`` per group (exact
    dynamic programme over the distinct sizes). Returns lists of front indices."""
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i][1], sizes[i][0]))
    keys = sorted(set((r, e) for e, r in sizes))
    count = {k: 0 for k in keys}
    for e, r in sizes:
        count[(r, e)] += 1
    m = len(keys)
    G = max(1, min(max_groups, m))
    best = np.full((G + 1, m + 1), np.inf)
    arg = np.zeros((G + 1, m + 1), dtype=int)
    best[0, 0] = 0.0
    for b in range(1, m + 1):
        emax, cnt = 0, 0
        for a in range(b - 1, -1, -1):  # classes keys[a:b]
            emax = max(emax, keys[a][1])
            cnt += count[keys[a]]
            seg = cnt * _front_cost(max(1, emax), keys[b - 1][0]) + overhead
            for g in range(1, G + 1):
                c = best[g - 1, a] + seg
                if c < best[g, b]:
                    best[g, b], arg[g, b] = c, a
    g = int(np.argmin(best[1:, m])) + 1
    cuts, b = [], m
    while g > 0:
        a = int(arg[g, b])
        cuts.append((a, b))
        b, g = a, g - 1
    out, pos = [], 0
    for a, b in cuts[::-1]:
        n_in = sum(count[k] for k in keys[a:b])
        out.append(order[pos:pos + n_in])
        pos += n_in
    return out


def _group(fronts, prev_rings, prev_layout, n, P, offsets) -> Level:
    """Padded arrays of one group of fronts ``(box, elim, ring, kids)``; ``prev_layout``:
    ``(per front (S offset, r offset, nR), S total, r total)`` of the previous level."""
    null = P * P + n
    n_off = len(offsets)
    stride_o, stride_d = (P + 1) * n, n
    zero, one = n_off * stride_o, n_off * stride_o + 1
    layout, s_zero, r_zero = prev_layout
    st_d = np.array([STENCIL[o][0] for o in offsets])
    st_k = np.array([STENCIL[o][1] for o in offsets])
    B = len(fronts)
    nE = max(1, max(len(f[1]) for f in fronts))
    nR = max(len(f[2]) for f in fronts)
    nF = nE + nR
    elim_a = np.full((B, nE), null)
    ring_a = np.full((B, nR), null)
    src = np.full((B, nF, nF), zero, dtype=np.int32)
    child_mat = np.full((B, 2, nF, nF), s_zero, dtype=np.int32)
    child_vec = np.full((B, 2, nF), r_zero, dtype=np.int32)
    for i, (_, elim, ring, kids) in enumerate(fronts):
        elim_a[i, :len(elim)] = elim
        ring_a[i, :len(ring)] = ring
        slots = np.concatenate([elim_a[i], ring_a[i]])
        for c, kid in enumerate(kids):
            kr = prev_rings[kid]
            order = np.argsort(kr)
            hit = np.clip(np.searchsorted(kr[order], slots), 0, len(kr) - 1)
            found = (kr[order][hit] == slots) & (slots != null)
            assert found.sum() == len(kr), "child ring node missing from parent front"
            s_base, r_base, nRc = layout[kid]
            p = order[hit]
            child_vec[i, c] = np.where(found, r_base + p, r_zero)
            both = found[:, None] & found[None, :]
            child_mat[i, c] = np.where(both, s_base + p[:, None] * nRc + p[None, :], s_zero)
        # original entries in rows or columns of the eliminated nodes
        real = slots != null
        is_e = np.zeros(nF, bool)
        is_e[:len(elim)] = True
        sorted_slots = np.argsort(slots)
        pd, pk = _decode(slots, n, P)
        # every offset at once, (nF, n_off) (a loop over the offsets made 7x as many small
        # numpy calls: 28 s of the plan at n = 400); distinct offsets reach distinct nodes
        q = _node_ids(pd[:, None] + st_d, pk[:, None] + st_k, n, P)
        hit = np.minimum(np.searchsorted(slots[sorted_slots], q), nF - 1)
        qpos = sorted_slots[hit]
        ok = real[:, None] & (q != null) & (slots[qpos] == q)
        ok &= is_e[:, None] | is_e[qpos]
        r, oi = np.nonzero(ok)
        src[i, r, qpos[r, oi]] = oi * stride_o + pd[r] * stride_d + pk[r]
        pad = np.arange(len(elim), nE)  # identity on padded eliminated slots
        src[i, pad, pad] = one
    ed, ek = _decode(elim_a, n, P)
    rho_ok = elim_a != null
    return Level(elim=elim_a, ring=ring_a, src=src, child_mat=child_mat, child_vec=child_vec,
                 rho_row=np.where(rho_ok, ek + ed, 0), rho_col=np.where(rho_ok, ek, 0),
                 rho_ok=rho_ok)
