r"""Structured steady-state solver for one driven-dissipative mode (block-tridiagonal over $d=m-n$).

Scope: a single bosonic mode truncated to ``nmax`` levels (Fock states ``|0>..|nmax-1>``) with

- a Hermitian Hamiltonian that is *tridiagonal* in the Fock basis, $H = \sum_k h_k|k\rangle\langle k|
  + \sum_k (e_k|k+1\rangle\langle k| + \mathrm{h.c.})$: any function of $a^\dagger a$ plus a coherent
  drive (e.g. the Kerr Hamiltonian of [GFL20, Eq. (11)]);
- jump operators with a single band, $c = \sum_j v_j |j\rangle\langle j+s|$ (``s = 1`` loss
  $\propto a$, ``s = -1`` gain $\propto a^\dagger$, ``s = 0`` dephasing $\propto a^\dagger a$), which map
  $\rho_{mn}\to\rho_{m-s,n-s}$ and so conserve $d = m-n$.

Ordering $\rho_{mn}$ by $d$, with the block $x_d[k] = \rho_{k+d,k}$ (size ``nmax - d``), the
stationarity condition reads $C_d x_{d-1} + A_d x_d + B_d x_{d+1} = 0$: $A_d$ is tridiagonal (the
diagonal Hamiltonian and the dissipators), $B_d, C_d$ are bidiagonal (the drive). Lindblad generators
preserve Hermiticity, so $x_{-d} = \bar x_d$ and only $d\ge 0$ is solved:

1. block-Thomas elimination from $d = {\rm nmax}-1$ down to $1$:
   $x_d = R_d x_{d-1}$, $R_d = -(A_d + B_d R_{d+1})^{-1} C_d$, cost $\sum_d O(({\rm nmax}-d)^3)
   \approx {\rm nmax}^4/4$;
2. the $d = 0$ equation becomes a real ``nmax x nmax`` system on the populations,
   $M_0 x_0 = 0$ with $M_0 = \mathrm{Re}(A_0 + 2 B_0 R_1)$ (the Schur complement of the Liouvillian
   onto the diagonal), solved with the trace condition by the bordered system
   $(M_0 + w\,\mathbf 1\mathbf 1^T/{\rm nmax})x_0 = w\mathbf 1/{\rm nmax}$ ($\mathbf 1^TM_0 = 0$ by trace
   preservation);
3. forward sweep $x_d = R_d x_{d-1}$.

Padding: each elimination step is an LU solve of its block; running all steps in one
``lax.scan`` pads every block to ``nmax`` (~4x the flops of exact sizes). The diagonals are
therefore split into ``n_buckets`` contiguous groups, each one ``lax.scan`` at its own padded
size (padding rows are identity rows, so they decouple exactly); more buckets = less padding,
more compilation.

Conditioning: the small singular values of $M_0$ are the slow relaxation rates of the
populations. ``gap_estimate`` is the non-zero eigenvalue of $M_0$ projected on its two smallest
singular pairs (within a factor ~2 of the Liouvillian gap), and
``error_estimate = eps_mach ||M_0|| / sigma_2(M_0)`` is the predicted error of the weight of
the slow mode; the slow subspace itself (two smallest singular vectors) stays well conditioned,
which :func:`jaxent.models.kerr.kerr_steady_state` uses to pin that weight from an exact moment.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent.fock.liouvillian import _is_concrete, as_c_ops, check_hamiltonian
from jaxent.fock.steady_state import EPS64, RESOLVE_TOL, SteadyState
from jaxent.fock.truncation import tail_population


class BandedLindblad(eqx.Module):
    r"""A single-mode Lindbladian in banded form (see the module docstring).

    Fields: ``h_diag`` ``(nmax,)`` real, $H_{kk}$; ``h_low`` ``(nmax-1,)`` complex,
    $e_k = H_{k+1,k}$ (the upper band is its conjugate); ``jump_vals`` tuple of ``(nmax,)``
    complex arrays, ``v[j] = c[j, j+s]`` (zero where ``j+s`` is outside the space);
    ``jump_offsets`` (static) tuple of the offsets ``s``. ``nmax = h_diag.shape[0]``.
    """

    h_diag: jax.Array
    h_low: jax.Array
    jump_vals: tuple
    jump_offsets: tuple = eqx.field(static=True)

    @property
    def nmax(self) -> int:
        return self.h_diag.shape[0]

    @classmethod
    def from_dense(cls, H, c_ops=(), offsets=None) -> "BandedLindblad":
        """Extract the bands of a dense ``H`` and collapse operators.

        ``offsets`` (one int per jump operator) is required under ``jit``; with concrete
        arrays it is detected and the structure is checked (``ValueError`` naming ``H`` or
        ``c_ops`` when ``H`` is not tridiagonal or a jump operator has more than one band).
        """
        H = check_hamiltonian(H)
        n = H.shape[0]
        C = as_c_ops(c_ops, n)
        concrete = _is_concrete(H) and _is_concrete(C)
        if concrete:
            Hn = np.asarray(H)
            band = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) > 1
            if np.any(np.abs(Hn[band]) > 0):
                raise ValueError("H must be tridiagonal in the Fock basis (a drive changes the "
                                 "photon number by at most one) for the banded solver")
        if offsets is None:
            if not concrete:
                raise ValueError("c_ops: pass offsets=(...) when calling from_dense under jit")
            offsets = []
            for i, c in enumerate(np.asarray(C)):
                nz = np.argwhere(np.abs(c) > 0)
                diffs = np.unique(nz[:, 1] - nz[:, 0]) if len(nz) else np.array([0])
                if len(diffs) != 1:
                    raise ValueError(f"c_ops[{i}] must have a single band (c[j, j+s]) so that it "
                                     f"conserves d = m - n; found offsets {diffs.tolist()}")
                offsets.append(int(diffs[0]))
        offsets = tuple(int(s) for s in offsets)
        if len(offsets) != C.shape[0]:
            raise ValueError(f"offsets must have one entry per jump operator ({C.shape[0]})")
        vals = []
        j = np.arange(n)
        for c, s in zip(C, offsets):
            ok = (j + s >= 0) & (j + s < n)
            v = jnp.where(jnp.asarray(ok), c[j, np.clip(j + s, 0, n - 1)], 0.0)
            vals.append(v.astype(jnp.complex128))
        return cls(
            h_diag=jnp.real(jnp.diagonal(H)),
            h_low=jnp.diagonal(H, offset=-1),
            jump_vals=tuple(vals),
            jump_offsets=offsets,
        )

    def dense_hamiltonian(self) -> jax.Array:
        """The dense ``(nmax, nmax)`` Hamiltonian."""
        return (jnp.diag(self.h_diag.astype(jnp.complex128)) + jnp.diag(self.h_low, -1)
                + jnp.diag(self.h_low.conj(), 1))

    def dense_c_ops(self) -> jax.Array:
        """The dense ``(k, nmax, nmax)`` jump operators."""
        n = self.nmax
        out = []
        for v, s in zip(self.jump_vals, self.jump_offsets):
            j = np.arange(n)
            ok = (j + s >= 0) & (j + s < n)
            out.append(jnp.zeros((n, n), jnp.complex128).at[j[ok], j[ok] + s].set(v[j[ok]]))
        if not out:
            return jnp.zeros((0, n, n), jnp.complex128)
        return jnp.stack(out)


# ----------------------------------------------------------------------------------------------
# bucketing


@functools.lru_cache(maxsize=None)
def bucket_bounds(nmax: int, n_buckets: int) -> tuple[tuple[int, int], ...]:
    """Split ``d = 1 .. nmax-1`` into at most ``n_buckets`` contiguous groups ``(d_lo, d_hi)``
    minimising the padded work ``sum_g count_g * (nmax - d_lo_g + 1)^3`` (exact dynamic
    programme; cached). Ordered from low ``d`` (large blocks) to high ``d``."""
    D = nmax - 1
    if D <= 0:
        return ()
    B = max(1, min(n_buckets, D))
    # cost of a group covering d in [i, j] (1-based): (j - i + 1) * (nmax - i + 1)^3
    d = np.arange(1, D + 1)
    INF = np.inf
    best = np.full((B + 1, D + 2), INF)  # best[b, i] = min cost to cover d in [i, D] with b groups
    arg = np.zeros((B + 1, D + 2), dtype=int)
    best[0, D + 1] = 0.0
    for b in range(1, B + 1):
        for i in range(D, 0, -1):
            js = d[d >= i]  # group [i, j], rest [j+1, D]
            cost = (js - i + 1) * float(nmax - i + 1) ** 3 + best[b - 1, js + 1]
            k = int(np.argmin(cost))
            best[b, i] = cost[k]
            arg[b, i] = js[k]
    b = int(np.argmin(best[1:, 1])) + 1
    bounds, i = [], 1
    while i <= D:
        j = int(arg[b, i])
        bounds.append((i, j))
        i, b = j + 1, b - 1
    return tuple(bounds)


def _gather(arr, idx, valid):
    """``arr[idx]`` where ``valid``, else 0 (static numpy ``idx``/``valid``)."""
    n = arr.shape[0]
    safe = np.where(valid, np.clip(idx, 0, max(n - 1, 0)), 0)
    if n == 0:
        return jnp.zeros(idx.shape, arr.dtype)
    return jnp.where(jnp.asarray(valid), arr[safe], 0.0)


def _coefficients(sys: BandedLindblad, ds: np.ndarray, Q: int):
    """Per-block coefficient arrays, shape ``(len(ds), Q)``, for blocks ``d in ds`` padded to ``Q``."""
    n = sys.nmax
    k = np.arange(Q)[None, :]
    d = ds[:, None]
    m = k + d
    s_d = n - d
    valid = k < s_d
    h = sys.h_diag.astype(jnp.complex128)
    e = sys.h_low
    a_diag = -1j * (_gather(h, m, valid) - _gather(h, np.broadcast_to(k, m.shape), valid))
    jumps = []
    for v, s in zip(sys.jump_vals, sys.jump_offsets):
        jsrc = np.arange(n)
        ok = (jsrc + s >= 0) & (jsrc + s < n)
        cc = jnp.zeros(n, jnp.float64).at[jsrc[ok] + s].set(jnp.abs(v[jsrc[ok]]) ** 2)
        a_diag = a_diag - 0.5 * (_gather(cc, m, valid) + _gather(cc, np.broadcast_to(k, m.shape), valid))
        # (c rho c^dag)_{mn} = v_m rho_{m+s,n+s} conj(v_n): entry (k, k+s) of block d
        col_ok = valid & (k + s >= 0) & (k + s < s_d)
        jumps.append(_gather(v, m, col_ok) * jnp.conj(_gather(v, np.broadcast_to(k, m.shape), col_ok)))
    kk = np.broadcast_to(k, m.shape)
    c0 = -1j * _gather(e, m - 1, valid & (m - 1 >= 0))                  # on x_{d-1}[k]
    c1 = 1j * _gather(e, kk, valid & (kk <= n - 2))                       # on x_{d-1}[k+1]
    b0 = -1j * jnp.conj(_gather(e, m, valid & (kk <= s_d - 2)))           # on x_{d+1}[k]
    b1 = 1j * jnp.conj(_gather(e, kk - 1, valid & (kk >= 1) & (kk <= s_d - 1)))  # on x_{d+1}[k-1]
    return dict(a=a_diag, jumps=tuple(jumps), b0=b0, b1=b1, c0=c0, c1=c1,
                valid=jnp.asarray(np.broadcast_to(valid, m.shape)))


def _offdiag(vals, s, Q):
    """Matrix with ``vals[k]`` at ``(k, k+s)``."""
    if s == 0:
        return jnp.diag(vals)
    if s > 0:
        return jnp.diag(vals[: Q - s], s)
    return jnp.diag(vals[-s:], s)


def _b_times(b0, b1, R):
    """``B R`` for the bidiagonal ``B`` (``b0`` on row ``k`` of ``R``, ``b1`` on row ``k-1``)."""
    Rs = jnp.concatenate([jnp.zeros_like(R[:1]), R[:-1]], axis=0)
    return b0[:, None] * R + b1[:, None] * Rs


def _eliminate(sys: BandedLindblad, n_buckets: int):
    """Block-Thomas elimination. Returns ``(Rs, M0)``: ``Rs[g]`` stacked ``R_d`` of group ``g``
    (ascending ``d``, padded to ``Q_g``), ``M0`` the real ``(nmax, nmax)`` Schur complement."""
    n = sys.nmax
    offsets = sys.jump_offsets
    bounds = bucket_bounds(n, n_buckets)
    Rs = [None] * len(bounds)
    R = None
    for g in range(len(bounds) - 1, -1, -1):
        lo, hi = bounds[g]
        Q = n - lo + 1
        coef = _coefficients(sys, np.arange(lo, hi + 1), Q)
        if R is None:
            R = jnp.zeros((Q, Q), jnp.complex128)
        else:
            R = jnp.pad(R, ((0, Q - R.shape[0]), (0, Q - R.shape[1])))
        eye = jnp.eye(Q, dtype=jnp.complex128)

        def step(R_next, c, Q=Q, eye=eye):
            A = jnp.diag(c["a"])
            for vals, s in zip(c["jumps"], offsets):
                A = A + _offdiag(vals, s, Q)
            S = A + _b_times(c["b0"], c["b1"], R_next)
            mask = c["valid"][:, None] & c["valid"][None, :]
            S = jnp.where(mask, S, eye)
            Cm = jnp.diag(c["c0"]) + jnp.diag(c["c1"][:-1], 1)
            R_d = -jnp.linalg.solve(S, Cm)
            return R_d, R_d

        R, Rs[g] = jax.lax.scan(step, R, coef, reverse=True)
    # d = 0 block (populations); the -1 block is the conjugate of the +1 block
    c = _coefficients(sys, np.array([0]), n)
    c = jax.tree_util.tree_map(lambda x: x[0], c)
    A0 = jnp.diag(c["a"])
    for vals, s in zip(c["jumps"], offsets):
        A0 = A0 + _offdiag(vals, s, n)
    if R is None:  # nmax == 1
        M0 = jnp.real(A0)
    else:
        M0 = jnp.real(A0) + 2.0 * jnp.real(_b_times(c["b0"], c["b1"], R))
    return tuple(Rs), M0


def _populations(M0):
    """Normalised null vector of ``M0`` by the bordered solve (differentiable)."""
    n = M0.shape[0]
    w = jnp.max(jnp.abs(jnp.diagonal(M0))) + 1.0
    one = jnp.ones(n, M0.dtype)
    return jnp.linalg.solve(M0 + w * jnp.outer(one, one) / n, w * one / n)


def _slow_analysis(M0):
    """Singular-value diagnostics of ``M0`` (no gradient): ``(gap, err, v)`` with ``gap`` the
    slow relaxation-rate estimate (2x2 projection on the two smallest singular pairs),
    ``err = eps ||M0|| / sigma_2(M0)`` and ``v`` the traceless unit direction in the span of the
    two smallest right singular vectors (the slow mode)."""
    M0 = jax.lax.stop_gradient(M0)
    n = M0.shape[0]
    if n < 2:
        return jnp.asarray(jnp.inf), jnp.asarray(0.0), jnp.zeros(n)
    U, s, Vh = jnp.linalg.svd(M0)
    v1, v2 = Vh[-1], Vh[-2]
    v = jnp.sum(v2) * v1 - jnp.sum(v1) * v2
    v = v / jnp.linalg.norm(v)
    # Petrov-Galerkin 2x2 projection of M0 onto the slow subspaces: its eigenvalues are ~0 and
    # the slowest population relaxation rate (within a factor ~2 of the Liouvillian gap, the
    # coherences' share of the slow mode being neglected).
    U2, V2 = U[:, -2:], Vh[-2:].T
    G = jnp.linalg.solve(U2.T @ V2, U2.T @ M0 @ V2)
    tr, det = G[0, 0] + G[1, 1], G[0, 0] * G[1, 1] - G[0, 1] * G[1, 0]
    root = jnp.sqrt((0.25 * tr**2 - det).astype(jnp.complex128))
    gap = jnp.maximum(jnp.abs(0.5 * tr + root), jnp.abs(0.5 * tr - root))
    return gap, EPS64 * s[0] / s[-2], v


def _reconstruct(n: int, n_buckets: int, Rs, x0):
    """Forward sweep ``x_d = R_d x_{d-1}`` and assembly of the Hermitian ``rho``."""
    bounds = bucket_bounds(n, n_buckets)
    x = x0.astype(jnp.complex128)
    rows, cols, vals = [], [], []
    for g, (lo, hi) in enumerate(bounds):
        Q = n - lo + 1
        x = x[:Q] if x.shape[0] >= Q else jnp.pad(x, (0, Q - x.shape[0]))

        def step(xp, R):
            xd = R @ xp
            return xd, xd

        x, xs = jax.lax.scan(step, x, Rs[g])
        ds = np.arange(lo, hi + 1)
        kk = np.arange(Q)
        valid = kk[None, :] < (n - ds)[:, None]
        di, ki = np.nonzero(valid)
        rows.append(ki + ds[di])
        cols.append(ki)
        vals.append(xs[di, ki])
    diag = jnp.diag(x0.astype(jnp.complex128))
    if not rows:
        return diag
    r, c_ = np.concatenate(rows), np.concatenate(cols)
    low = jnp.zeros((n, n), jnp.complex128).at[r, c_].set(jnp.concatenate(vals))
    return low + low.conj().T + diag


def _residual(sys: BandedLindblad, rho):
    H = sys.dense_hamiltonian()
    out = -1j * (H @ rho - rho @ H)
    for c in sys.dense_c_ops():
        cd = c.conj().T
        cdc = cd @ c
        out = out + c @ rho @ cd - 0.5 * (cdc @ rho + rho @ cdc)
    return jnp.linalg.norm(out)


def _finish(sys, rho_raw, gap, err, pinned):
    trace_error = jnp.abs(jnp.real(jnp.trace(rho_raw)) - 1.0)
    rho = rho_raw / jnp.real(jnp.trace(rho_raw))
    return SteadyState(
        rho=rho,
        trace_error=trace_error,
        residual_norm=_residual(sys, rho),
        tail_population=tail_population(jnp.real(jnp.diagonal(rho))),
        gap_estimate=gap,
        error_estimate=err,
        resolvable=err < RESOLVE_TOL,
        pinned=jnp.asarray(pinned),
    )


@functools.partial(jax.jit, static_argnames="n_buckets")
def solve_banded(sys: BandedLindblad, *, n_buckets: int = 4) -> SteadyState:
    """Steady state of a :class:`BandedLindblad` (module docstring for the algorithm).

    ``n_buckets`` (static) trades compile time against padding work. Differentiable in every
    array field of ``sys``; jit- and vmap-able. The diagnostics (``gap_estimate``,
    ``error_estimate``, ``resolvable``) are computed without gradient.
    """
    Rs, M0 = _eliminate(sys, n_buckets)
    x0 = _populations(M0)
    gap, err, _ = _slow_analysis(M0)
    rho = _reconstruct(sys.nmax, n_buckets, Rs, x0)
    return _finish(sys, rho, gap, err, False)


def steady_state_banded(H, c_ops=(), *, offsets=None, n_buckets: int = 4) -> SteadyState:
    """Structured steady state from dense ``H`` (tridiagonal) and single-band ``c_ops``.

    Convenience wrapper of :meth:`BandedLindblad.from_dense` + :func:`solve_banded`; under
    ``jit`` pass the static ``offsets`` of the jump operators (``+1`` for ``a``, ``-1`` for
    ``a^dag``, ``0`` for ``a^dag a``).
    """
    return solve_banded(BandedLindblad.from_dense(H, c_ops, offsets), n_buckets=n_buckets)
