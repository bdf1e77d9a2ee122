r"""Steady-state solvers in the manner of lineax: ``init`` factorises, ``compute`` solves,
``transpose`` gives the adjoint solve.

Every solver solves the *bordered* problem

$$\mathcal L y = b,\qquad \mathrm{tr}\,y = \tau,\qquad
  \big[\ \mathrm{tr}(O y) = c\ \text{ if a pin is active}\ \big]$$

for a Hermitian, trace-consistent right-hand side ($\mathrm{tr}\,b = 0$). The steady state is
``b = 0, tau = 1``; the implicit derivative of a steady state is ``b = -(dL) rho, tau = 0`` with
the pinned moment's derivative as ``c`` (:mod:`jaxent.lindblad.steady_state`). The shifted
operator $\mathcal L - \sigma$ of the spectrum's shift-invert
(:class:`~jaxent.lindblad.operators.ShiftedLindbladian`) is solved the same way with
$\tau = 0$: it is invertible, and for a traceless ``b`` its solution is traceless, so the
constraint selects it. ``compute`` is
linear in ``(b, tau, c)`` and built from linear operations on the stored factors only, so JAX
transposes it for reverse mode and ``transpose`` is :func:`jax.linear_transpose` of it.

Pins: near a first-order dissipative transition the gap $\lambda_1$ closes exponentially in the
system size, and the weight of the slow mode is determined only to
$\epsilon_{\rm mach}\|\mathcal L\|/\lambda_1$ by *any* float64 solve, while the two-dimensional
slow subspace (null vector + slow mode) stays well conditioned. A pin replaces the
ill-conditioned slow equation by an exactly known moment $\mathrm{tr}(O\rho)$ of a diagonal
observable ``O`` (weights on the populations), e.g. the exact Kerr photon number. The same
replacement is applied to the derivative, so the gradient is as well conditioned as the state.

Solvers:

- :class:`DenseSolver`: any Lindbladian via its ``(n^2, n^2)`` matrix; bordered LU, plus an SVD
  for the diagnostics and for pins. ``n`` up to ~30.
- :class:`BandedElimination`: :class:`~jaxent.lindblad.operators.BandedLindbladian`;
  block elimination over $d = m - n$ with Hermitian folding, ``O(n^4)`` time, ``O(n^3)`` memory
  (one LU per block, reused by every solve). ``n`` of a few hundred.
- :class:`NestedDissection`: the same operators with jump operators on the bands -1, 0, +1;
  multifrontal nested dissection of the coherences, ``O(n^3)`` flops, same pins and diagnostics
  (:mod:`jaxent.lindblad.dissection`).
- :class:`KrylovSolver`: any Lindbladian, matrix-free GMRES (lineax) on ``L.mv``; no pins.
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from jaxent.lindblad.dissection import dissection_plan
from jaxent.lindblad.operators import (
    AbstractLindbladian,
    BandedLindbladian,
    ShiftedLindbladian,
)
from jaxent.tolerances import EPS64


class Pin(eqx.Module):
    r"""An exactly known moment, $\mathrm{tr}(O\rho)$ = ``value``, of a diagonal observable.

    ``weights``: ``(n,)`` real, the diagonal of ``O`` in the Fock basis (e.g. ``arange(n)`` for
    $a^\dagger a$); ``value``: its exact value (traced, differentiable); ``active``: boolean
    array, whether to use it (e.g. only where the plain solve is ill-conditioned).
    """

    weights: jax.Array
    value: jax.Array
    active: jax.Array


def _constrained_svd_solve(U, s, Vh, r, tau, pin: Pin | None, trace_fn=None, pin_fn=None):
    """Solve ``M y = r`` with ``trace_fn . y = tau`` (and ``pin_fn . y = pin.value`` when pinned)
    from the SVD ``M = U diag(s) Vh`` (real or complex): the slowest one (two when pinned)
    singular directions are fixed by the constraints instead of by ``1/s``. Linear in
    ``(r, tau, value)``. ``trace_fn`` defaults to ones (populations), ``pin_fn`` to
    ``pin.weights``. Returns ``(y, pinned)``."""
    n = s.shape[0]
    idx = jnp.arange(n)
    coef = jnp.conj(U).T @ r
    one = (jnp.ones(n) if trace_fn is None else trace_fn).astype(Vh.dtype)
    V = jnp.conj(Vh).T

    def with_slow(k):
        inv = jnp.where(idx < n - k, 1.0 / jnp.where(idx < n - k, s, 1.0), 0.0)
        fast = V @ (coef * inv)
        return fast, V[:, n - k:]

    fast1, V1 = with_slow(1)
    y1 = fast1 + V1[:, 0] * (tau - one @ fast1) / (one @ V1[:, 0])
    if pin is None or n < 2:
        return y1, jnp.asarray(False)
    fast2, V2 = with_slow(2)
    w = (pin.weights if pin_fn is None else pin_fn).astype(V2.dtype)
    K = jnp.stack([one @ V2, w @ V2])
    det = K[0, 0] * K[1, 1] - K[0, 1] * K[1, 0]
    scale = (jnp.abs(K[0, 0]) + jnp.abs(K[0, 1])) * jnp.max(jnp.abs(w))
    ok = jnp.abs(det) > 1e-10 * scale
    rhs = jnp.stack([tau - one @ fast2, pin.value - w @ fast2])
    Ksafe = jnp.where(ok, K, jnp.eye(2, dtype=K.dtype))
    y2 = fast2 + V2 @ jnp.linalg.solve(Ksafe, rhs.astype(K.dtype))
    pinned = jnp.logical_and(pin.active, ok)
    return jnp.where(pinned, y2, y1), pinned


def _slow_diagnostics(U, s, Vh, M):
    """``(gap, err)``: the slow relaxation-rate estimate from the Petrov-Galerkin projection of
    ``M`` on its two smallest singular pairs, and ``eps ||M|| / sigma_2``."""
    n = s.shape[0]
    if n < 2:
        return jnp.asarray(jnp.inf), jnp.asarray(0.0)
    U2, V2 = U[:, -2:], jnp.conj(Vh[-2:]).T
    G = jnp.linalg.solve(jnp.conj(U2).T @ V2, jnp.conj(U2).T @ M @ V2)
    tr, det = G[0, 0] + G[1, 1], G[0, 0] * G[1, 1] - G[0, 1] * G[1, 0]
    root = jnp.sqrt((0.25 * tr**2 - det).astype(jnp.complex128))
    gap = jnp.maximum(jnp.abs(0.5 * tr + root), jnp.abs(0.5 * tr - root))
    return gap, EPS64 * s[0] / s[-2]


class AbstractSolver(eqx.Module):
    """``init(L) -> state``; ``compute(state, b, tau, pin) -> y``; ``diagnostics(state) ->
    (gap_estimate, error_estimate)``; ``transpose(state, ct) -> cotangent of b``."""

    def init(self, L: AbstractLindbladian):
        raise NotImplementedError

    def compute(self, state, b, tau, pin: Pin | None = None):
        raise NotImplementedError

    def diagnostics(self, state):
        raise NotImplementedError

    def supports_pin(self) -> bool:
        return True

    def transpose(self, state, ct, pin: Pin | None = None):
        """Hilbert-Schmidt adjoint of the linear solve ``b -> compute(state, b, 0, pin with value
        0)``, i.e. ``Re tr(ct^dag compute(b)) = Re tr(transpose(ct)^dag b)``: the solve that
        reverse-mode differentiation performs, reusing the factors of ``state`` (JAX transposes
        the linear solve; its pairing ``Re sum(ct * y)`` has no conjugate, hence the two
        conjugations)."""
        n = ct.shape[0]
        zpin = None if pin is None else eqx.tree_at(lambda p: p.value, pin, jnp.zeros(()))

        def f(b):
            return self.compute(state, b, jnp.zeros(()), zpin)[0]

        (out,) = jax.linear_transpose(f, jnp.zeros((n, n), jnp.complex128))(jnp.conj(ct))
        return jnp.conj(out)


def _hermitize(y):
    return 0.5 * (y + jnp.conj(y).T)


# ----------------------------------------------------------------------------------------------
# dense


class DenseSolver(AbstractSolver):
    """Dense solves on the ``(n^2, n^2)`` superoperator: bordered LU for plain solves, SVD for
    pins and diagnostics (``diagnose=False`` skips the ``O(n^6)`` SVD; then no pins, NaN
    diagnostics and ``resolvable`` False: conditioning unknown)."""

    diagnose: bool = eqx.field(static=True, default=True)

    def init(self, L):
        n = L.dim
        from jaxent.resources import check_memory

        check_memory(16.0 * n**4 * (4 if self.diagnose else 2), f"DenseSolver at n={n}",
                     "use BandedElimination (one mode) or KrylovSolver")
        Lm = L.as_matrix()
        t = jnp.eye(n, dtype=jnp.complex128).T.reshape(-1)
        w = jnp.max(jnp.abs(jnp.diagonal(Lm))) + 1.0
        lu = jsl.lu_factor(Lm + w * jnp.outer(t, t) / n)
        svd = jnp.linalg.svd(Lm) if self.diagnose else None
        return dict(n=n, Lm=Lm, t=t, w=w, lu=lu, svd=svd)

    def supports_pin(self) -> bool:
        return self.diagnose

    def compute(self, state, b, tau, pin=None):
        n = state["n"]
        vb = (jnp.zeros(n * n, jnp.complex128) if b is None
              else jnp.asarray(b, jnp.complex128).T.reshape(-1))
        if pin is None:
            y = jsl.lu_solve(state["lu"], vb + state["w"] * state["t"] * tau / n)
            return _hermitize(y.reshape(n, n).T), jnp.asarray(False)
        if state["svd"] is None:
            raise ValueError("DenseSolver(diagnose=False) cannot apply a pin (needs the SVD)")
        U, s, Vh = state["svd"]
        # tr(y) and tr(O y) as functionals on vec(y): vec(I) and vec(diag(w)), both supported
        # on the diagonal entries vec index m (n + 1)
        diag_idx = np.arange(n) * (n + 1)
        trace_fn = jnp.zeros(n * n).at[diag_idx].set(1.0)
        pin_fn = jnp.zeros(n * n).at[diag_idx].set(pin.weights)
        y, pinned = _constrained_svd_solve(U, s, Vh, vb, tau, pin, trace_fn, pin_fn)
        return _hermitize(y.reshape(n, n).T), pinned

    def diagnostics(self, state):
        if state["svd"] is None:
            return jnp.asarray(jnp.nan), jnp.asarray(jnp.nan)
        U, s, Vh = state["svd"]
        return s[-2], EPS64 * s[0] / s[-2]


# ----------------------------------------------------------------------------------------------
# banded: block elimination over d = m - n


@functools.lru_cache(maxsize=None)
def bucket_bounds(nmax: int, n_buckets: int) -> tuple[tuple[int, int], ...]:
    """Split ``d = 1 .. nmax-1`` into at most ``n_buckets`` contiguous groups ``(d_lo, d_hi)``
    minimising the padded work ``sum_g count_g (nmax - d_lo_g + 1)^3`` (exact dynamic
    programme; cached). Ordered from low ``d`` (large blocks) to high ``d``."""
    D = nmax - 1
    if D <= 0:
        return ()
    B = max(1, min(n_buckets, D))
    d = np.arange(1, D + 1)
    best = np.full((B + 1, D + 2), np.inf)
    arg = np.zeros((B + 1, D + 2), dtype=int)
    best[0, D + 1] = 0.0
    for b in range(1, B + 1):
        for i in range(D, 0, -1):
            js = d[d >= i]
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
    if n == 0:
        return jnp.zeros(idx.shape, arr.dtype)
    safe = np.where(valid, np.clip(idx, 0, n - 1), 0)
    return jnp.where(jnp.asarray(valid), arr[safe], 0.0)


def _split_shift(L) -> tuple[AbstractLindbladian, Any]:
    """``(base, sigma)`` of a :class:`~jaxent.lindblad.operators.ShiftedLindbladian`
    ``base - sigma``; ``(L, 0.0)`` for any other operator."""
    return (L.base, L.sigma) if isinstance(L, ShiftedLindbladian) else (L, 0.0)


def _banded_parts(L, solver: str) -> tuple[BandedLindbladian, Any]:
    """``(banded, sigma)`` of a :class:`BandedLindbladian` (``sigma = 0``) or of a
    :class:`~jaxent.lindblad.operators.ShiftedLindbladian` of one; ``TypeError`` naming
    ``solver`` for anything else."""
    base, sigma = _split_shift(L)
    if not isinstance(base, BandedLindbladian):
        raise TypeError(f"{solver} needs a BandedLindbladian (got {type(base).__name__}); use "
                        "DenseSolver or KrylovSolver")
    return base, sigma


def _coefficients(L: BandedLindbladian, ds: np.ndarray, Q: int, sigma=0.0) -> dict[str, Any]:
    r"""Block coefficients of $C_d x_{d-1} + A_d x_d + B_d x_{d+1}$ for ``d in ds``, padded to
    ``Q``: ``a`` (diagonal of $A_d$), ``jumps`` (band of $A_d$ per jump operator), ``b0, b1``
    ($B_d$ on rows ``k`` and ``k-1``), ``c0, c1`` ($C_d$ on ``k`` and ``k+1``), ``valid``.
    ``sigma``: the coefficients of $\mathcal L - \sigma$ (a shift of the diagonal ``a``)."""
    n = L.dim
    k = np.arange(Q)[None, :]
    d = ds[:, None]
    m = k + d
    s_d = n - d
    valid = k < s_d
    kk = np.broadcast_to(k, m.shape)
    h = L.h_diag.astype(jnp.complex128)
    e = L.h_low
    g = L.decay_rates()
    a = (-1j * (_gather(h, m, valid) - _gather(h, kk, valid))
         - 0.5 * (_gather(g, m, valid) + _gather(g, kk, valid))
         - jnp.where(jnp.asarray(valid), sigma, 0.0))
    jumps = []
    for v, s in zip(L.jump_vals, L.jump_offsets):
        col_ok = valid & (k + s >= 0) & (k + s < s_d)
        jumps.append(_gather(v, m, col_ok) * jnp.conj(_gather(v, kk, col_ok)))
    return dict(
        a=a, jumps=tuple(jumps),
        c0=-1j * _gather(e, m - 1, valid & (m - 1 >= 0)),
        c1=1j * _gather(e, kk, valid & (kk <= n - 2)),
        b0=-1j * jnp.conj(_gather(e, m, valid & (kk <= s_d - 2))),
        b1=1j * jnp.conj(_gather(e, kk - 1, valid & (kk >= 1) & (kk <= s_d - 1))),
        valid=jnp.asarray(np.broadcast_to(valid, m.shape)),
    )


def _band_matrix(c, offsets, Q):
    A = jnp.diag(c["a"])
    for vals, s in zip(c["jumps"], offsets):
        if s == 0:
            A = A + jnp.diag(vals)
        elif s > 0:
            A = A + jnp.diag(vals[: Q - s], s)
        else:
            A = A + jnp.diag(vals[-s:], s)
    return A


def _b_times(c, z):
    """``B_d z`` for a vector or matrix ``z`` (rows indexed by ``k``)."""
    zs = jnp.concatenate([jnp.zeros_like(z[:1]), z[:-1]], axis=0)
    if z.ndim == 1:
        return c["b0"] * z + c["b1"] * zs
    return c["b0"][:, None] * z + c["b1"][:, None] * zs


def _c_times(c, z):
    """``C_d z`` for a vector ``z``."""
    zs = jnp.concatenate([z[1:], jnp.zeros_like(z[:1])])
    return c["c0"] * z + c["c1"] * zs


def _blocks(b, n: int, ds: np.ndarray, Q: int):
    """``b_d[k] = b[k + d, k]`` for ``d in ds``, padded with zeros to ``Q``."""
    k = np.arange(Q)[None, :]
    rows = k + ds[:, None]
    valid = k < (n - ds)[:, None]
    safe_r = np.where(valid, rows, 0)
    safe_c = np.where(valid, np.broadcast_to(k, rows.shape), 0)
    return jnp.where(jnp.asarray(valid), b[safe_r, safe_c], 0.0)


#: fronts with at most this many eliminated nodes are inverted by batched Gauss-Jordan in
#: plain JAX (many tiny matrices: LAPACK's per-matrix cost dominates); larger ones by LAPACK
_GAUSS_JORDAN_MAX = 16


def _gauss_jordan_inverse(A):
    """Inverses of a batch ``(B, m, m)`` by Gauss-Jordan elimination with partial pivoting,
    vectorised over the batch; the ``m`` column steps are a ``lax.fori_loop`` (one compiled
    step per shape: unrolled, the steps of every small front of a plan were most of the
    solver's compilation time)."""
    B, m, _ = A.shape
    M = jnp.concatenate([A, jnp.broadcast_to(jnp.eye(m, dtype=A.dtype), A.shape)], axis=2)
    rows = jnp.arange(m)

    def step(k, M):
        col = jax.lax.dynamic_index_in_dim(M, k, axis=2, keepdims=False)  # (B, m)
        mag = jnp.where(rows[None, :] >= k, jnp.abs(col), -1.0)
        p = jnp.argmax(mag, axis=1)
        perm = jnp.where(rows[None, :] == k, p[:, None],
                         jnp.where(rows[None, :] == p[:, None], k, rows[None, :]))
        M = jnp.take_along_axis(M, perm[:, :, None], axis=1)
        row_k = jax.lax.dynamic_index_in_dim(M, k, axis=1, keepdims=False)  # (B, 2m)
        pivot_row = row_k / jax.lax.dynamic_index_in_dim(row_k, k, axis=1)
        col = jax.lax.dynamic_index_in_dim(M, k, axis=2, keepdims=False)
        M = M - col[:, :, None] * pivot_row[:, None, :]
        return jnp.where((rows == k)[None, :, None], pivot_row[:, None, :], M)

    M = jax.lax.fori_loop(0, m, step, M)
    return M[:, :, m:]


def _gather_groups(bufs, idx):
    """Sum over both children (axis 1 of ``idx``) of the entries at flat positions ``idx``
    (static) of the concatenation of the flat buffers ``bufs`` (its end: zero), gathered from
    each buffer separately: a gather fused with a concatenation is several times slower."""
    out, off = 0.0, 0
    for buf in bufs:
        size = buf.shape[0]
        loc = idx - off
        ok = (loc >= 0) & (loc < size)
        if ok.any():
            src = jnp.concatenate([buf, jnp.zeros(1, buf.dtype)])
            out = out + jnp.sum(src[np.where(ok, loc, size)], axis=1)
        off += size
    return out


def _after(token, x):
    """``x``, made data-dependent on ``token`` (``x + 0 * token[0...]``). Chains the batched
    LAPACK calls: on CPU, jaxlib 0.10's batched LAPACK kernels block a worker of XLA's thread
    pool while waiting for their batch tasks on the same pool, so two running concurrently can
    deadlock a small pool (``ParallelBatchMap``; seen on 2 cores). ``optimization_barrier`` does
    not survive into the CPU runtime; a data dependency does. Linear and transposable."""
    if token is None:
        return x
    return jax.tree_util.tree_map(lambda a: a + 0.0 * token[(0,) * token.ndim], x)


def _pad_to(x, Q):
    if x.shape[0] >= Q:
        return x[:Q] if x.ndim == 1 else x[:Q, :Q]
    if x.ndim == 1:
        return jnp.pad(x, (0, Q - x.shape[0]))
    return jnp.pad(x, ((0, Q - x.shape[0]), (0, Q - x.shape[1])))


class BandedElimination(AbstractSolver):
    r"""Block elimination over $d = m - n$ for a :class:`BandedLindbladian`.

    Ordering $\rho_{mn}$ by $d$ with blocks $x_d[k] = \rho_{k+d,k}$, $\mathcal L y = b$ reads
    $C_d y_{d-1} + A_d y_d + B_d y_{d+1} = b_d$ ($A_d$ banded, $B_d, C_d$ bidiagonal), and
    Hermiticity gives $y_{-d} = \bar y_d$, so only $d \ge 0$ is solved:

    - ``init``: from $d = n-1$ down to 1, $S_d = A_d + B_d R_{d+1}$ is LU-factorised and
      $R_d = -S_d^{-1}C_d$ carried (never stored); the populations' real Schur complement
      $M_0 = \mathrm{Re}(A_0 + 2B_0R_1)$ is SVD-factorised. ``O(n^4)`` flops, ``O(n^3)`` memory.
    - ``compute``: $g_d = S_d^{-1}(b_d - B_d g_{d+1})$ downwards, then
      $M_0 y_0 = \mathrm{Re}\,b_0 - 2\mathrm{Re}(B_0 g_1)$ with the trace (and pin) constraints
      (:func:`_constrained_svd_solve`), then $y_d = g_d - S_d^{-1}C_d y_{d-1}$ upwards.
      ``O(n^3)``: a gradient costs a fraction of the factorisation.

    ``n_buckets`` (static) groups the diagonals into runs padded to a common block size (one
    ``lax.scan`` each): more buckets, less padding work, more compilation.
    """

    n_buckets: int = eqx.field(static=True, default=4)

    def init(self, L: BandedLindbladian):
        return self._init(*_banded_parts(L, "BandedElimination"))

    @eqx.filter_jit
    def _init(self, L: BandedLindbladian, sigma):
        n = L.dim
        offsets = L.jump_offsets
        bounds = bucket_bounds(n, self.n_buckets)
        lus: list[tuple[jax.Array, jax.Array] | None] = [None] * len(bounds)
        coefs: list[dict[str, Any] | None] = [None] * len(bounds)
        R = None
        for g in range(len(bounds) - 1, -1, -1):
            lo, hi = bounds[g]
            Q = n - lo + 1
            coef = _coefficients(L, np.arange(lo, hi + 1), Q, sigma)
            R = jnp.zeros((Q, Q), jnp.complex128) if R is None else _pad_to(R, Q)
            eye = jnp.eye(Q, dtype=jnp.complex128)

            def step(R_next, c, Q=Q, eye=eye):
                S = _band_matrix(c, offsets, Q) + _b_times(c, R_next)
                S = jnp.where(c["valid"][:, None] & c["valid"][None, :], S, eye)
                lu, piv = jsl.lu_factor(S)
                Cm = jnp.diag(c["c0"]) + jnp.diag(c["c1"][:-1], 1)
                R_d = -jsl.lu_solve((lu, piv), Cm)
                return R_d, (lu, piv)

            R, lus[g] = jax.lax.scan(step, R, coef, reverse=True)
            coefs[g] = coef
        c0 = jax.tree_util.tree_map(lambda x: x[0], _coefficients(L, np.array([0]), n, sigma))
        M0 = jnp.real(_band_matrix(c0, offsets, n))
        if R is not None:
            M0 = M0 + 2.0 * jnp.real(_b_times(c0, R))
        svd = jnp.linalg.svd(M0)
        return dict(n=n, bounds=bounds, lus=tuple(lus), coefs=tuple(coefs), c0=c0, M0=M0,
                    svd=svd)

    @eqx.filter_jit
    def compute(self, state, b, tau, pin=None):
        n, bounds = state["n"], state["bounds"]
        lus, coefs = state["lus"], state["coefs"]
        if b is None:
            gs = [None] * len(bounds)
            g1 = None
            r = jnp.zeros(n)
        else:
            b = jnp.asarray(b, jnp.complex128)
            gs = [None] * len(bounds)
            gnext = None
            for gi in range(len(bounds) - 1, -1, -1):
                lo, hi = bounds[gi]
                Q = n - lo + 1
                bd = _blocks(b, n, np.arange(lo, hi + 1), Q)
                gnext = jnp.zeros(Q, jnp.complex128) if gnext is None else _pad_to(gnext, Q)

                def down(gn, inp):
                    (lu, piv), c, bdd = inp
                    gd = jsl.lu_solve((lu, piv), bdd - _b_times(c, gn))
                    return gd, gd

                gnext, gs[gi] = jax.lax.scan(down, gnext, (lus[gi], coefs[gi], bd), reverse=True)
            g1 = gnext
            r = jnp.real(jnp.diagonal(b))
            if g1 is not None:
                r = r - 2.0 * jnp.real(_b_times(state["c0"], g1))
        U, s, Vh = state["svd"]
        y0, pinned = _constrained_svd_solve(U, s, Vh, r, tau, pin)
        # upward sweep y_d = g_d - S_d^{-1} C_d y_{d-1}, assembled into the lower triangle
        y = y0.astype(jnp.complex128)
        rows, cols, vals = [], [], []
        for gi, (lo, hi) in enumerate(bounds):
            Q = n - lo + 1
            y = _pad_to(y, Q)
            gblk = gs[gi] if gs[gi] is not None else jnp.zeros((hi - lo + 1, Q), jnp.complex128)

            def up(yp, inp):
                (lu, piv), c, gd = inp
                yd = gd - jsl.lu_solve((lu, piv), _c_times(c, yp))
                return yd, yd

            y, ys = jax.lax.scan(up, y, (lus[gi], coefs[gi], gblk))
            ds = np.arange(lo, hi + 1)
            valid = np.arange(Q)[None, :] < (n - ds)[:, None]
            di, ki = np.nonzero(valid)
            rows.append(ki + ds[di])
            cols.append(ki)
            vals.append(ys[di, ki])
        out = jnp.diag(y0.astype(jnp.complex128))
        if rows:
            low = jnp.zeros((n, n), jnp.complex128).at[
                np.concatenate(rows), np.concatenate(cols)].set(jnp.concatenate(vals),
                                                                 unique_indices=True)
            out = out + low + jnp.conj(low).T
        return out, pinned

    def diagnostics(self, state):
        U, s, Vh = state["svd"]
        return _slow_diagnostics(U, s, Vh, state["M0"])


# ----------------------------------------------------------------------------------------------
# matrix-free Krylov


class KrylovSolver(AbstractSolver):
    """Matrix-free GMRES (:class:`lineax.GMRES`) on the bordered operator
    ``y -> L.mv(y) + w tr(y) I / n``, preconditioned by the inverse of its Fock-basis diagonal
    (``-i(H_mm - H_nn) + sum_c [c_mm conj(c_nn) - ((c^dag c)_mm + (c^dag c)_nn)/2]``, without
    which GMRES stagnates on stiff Lindbladians). Memory ``O(n^2)`` per Krylov vector. No pins and
    no slow-mode diagnostics: :func:`~jaxent.lindblad.steady_state` reports the relative residual
    (a backward error) as ``error_estimate``. For spaces too large for the factorising solvers,
    where the gap is not small."""

    rtol: float = eqx.field(static=True, default=1e-12)
    atol: float = eqx.field(static=True, default=1e-14)
    max_steps: int = eqx.field(static=True, default=10_000)
    restart: int = eqx.field(static=True, default=60)

    def supports_pin(self) -> bool:
        return False

    def init(self, L):
        n = L.dim
        diag = L.diagonal()
        # L - sigma (ShiftedLindbladian, the spectrum's shift-invert): the border below is chosen
        # on the unshifted rates and moved by sigma, since the bordered operator
        # (L - sigma) y + w tr(y) I / n is singular exactly when w = sigma: a null vector has
        # tr y != 0 (L - sigma is invertible on traceless matrices); for y = rho_ss + z with z
        # traceless it needs (L - sigma) z = sigma rho_ss - w I / n, whose left side is
        # traceless and whose right side has trace sigma - w
        sigma = _split_shift(L)[1]
        # Border on the scale of the slowest population decay: a border far larger than that
        # makes the preconditioned operator ill-conditioned (GMRES then stalls far from the
        # solution, measured).
        r = jnp.abs(jnp.real(jnp.diagonal(diag)) + sigma)
        w = jnp.min(jnp.where(r > 0, r, jnp.inf))
        w = jnp.where(jnp.isfinite(w), w, 1.0) + sigma
        diag = diag + w / n * jnp.eye(n)
        return dict(n=n, L=L, w=w, diag=diag)

    def compute(self, state, b, tau, pin=None):
        if pin is not None:
            raise ValueError("KrylovSolver does not support pins; use BandedElimination or "
                             "DenseSolver")
        # imported here: only this solver uses lineax, whose import (0.15 s on a 2-core CPU)
        # every command would otherwise pay before its first point
        import lineax as lx

        n, L, w, diag = state["n"], state["L"], state["w"], state["diag"]
        eye = jnp.eye(n, dtype=jnp.complex128)
        struct = jax.ShapeDtypeStruct((n, n), jnp.complex128)
        A = lx.FunctionLinearOperator(lambda y: L.mv(y) + w * jnp.trace(y) * eye / n, struct)
        P = lx.FunctionLinearOperator(lambda y: y / diag, struct)
        rhs = (jnp.zeros((n, n), jnp.complex128) if b is None else jnp.asarray(b, jnp.complex128))
        rhs = rhs + w * tau * eye / n
        sol = lx.linear_solve(A, rhs, lx.GMRES(rtol=self.rtol, atol=self.atol,
                                                max_steps=self.max_steps, restart=self.restart),
                              options={"preconditioner": P}, throw=False)
        return _hermitize(sol.value), jnp.asarray(False)

    def diagnostics(self, state):
        return jnp.asarray(jnp.nan), jnp.asarray(jnp.nan)


# ----------------------------------------------------------------------------------------------
# banded: nested dissection of the coherences


def _stencil_coefficients(L: BandedLindbladian, P: int, sigma=0.0):
    """``(offsets, coefficients, blocks)``: the nonzero
    :data:`~jaxent.lindblad.dissection.STENCIL` offsets of ``L``, their coefficients
    ``(n_offsets, P + 1, n)`` on ``(d, k)``, and the block coefficients of :func:`_coefficients`
    for ``d = 0 .. P`` they were taken from."""
    n = L.dim
    if any(abs(s) > 1 for s in L.jump_offsets):
        raise TypeError("NestedDissection needs jump operators on the bands -1, 0, +1 "
                        f"(got offsets {tuple(L.jump_offsets)}); use BandedElimination")
    c = _coefficients(L, np.arange(0, P + 1), n, sigma)
    by_offset = {0: c["a"], 3: c["c0"], 4: c["c1"], 5: c["b0"], 6: c["b1"]}
    for vals, s in zip(c["jumps"], L.jump_offsets):
        o = {0: 0, 1: 1, -1: 2}[s]
        by_offset[o] = by_offset.get(o, 0.0) + vals
    offsets = tuple(sorted(by_offset))
    return offsets, jnp.stack([by_offset[o] for o in offsets]), c


class NestedDissection(AbstractSolver):
    r"""Nested dissection (multifrontal elimination) of the coherences of a
    :class:`BandedLindbladian` whose jump operators lie on the bands ``-1, 0, +1``.

    The lower triangle $d = m - n \ge 1$ is a 2-D nearest-neighbour stencil bordered by the
    populations (:mod:`jaxent.lindblad.dissection`). It is cut recursively by separator lines;
    each level of the tree is one batched set of dense eliminations, from the leaves up:

    - ``init``: every front assembles its children's Schur complements and its own matrix
      entries, inverts its separator block $W = F_{EE}^{-1}$ (batched Gauss-Jordan with partial
      pivoting for small fronts, LAPACK LU for large ones, called one after another: see
      :func:`_after`), stores $X = W F_{ER}$ and passes $F_{RR} - F_{RE}X$ to its parent. The
      root's Schur complement $S_0$ lives on the populations; with Hermitian folding
      $M_0 = \mathrm{Re}(A_0 + 2 S_0)$ is SVD-factorised, as in :class:`BandedElimination`
      (same pins and diagnostics). ``O(n^3)`` flops, ``O(n^2 \log n)`` memory.
    - ``compute``: condensed right-hand sides upwards ($g_E = W r_E$), the populations from
      $M_0$ with the trace (and pin) constraints, then $y_E = g_E - X y_R$ downwards: matmuls and
      gathers only (JAX transposes it for reverse mode). ``O(n^2 \log n)``.

    ``leaf`` (static): the largest side of an undivided box (compile time vs run time).
    """

    leaf: int = eqx.field(static=True, default=4)

    def init(self, L: BandedLindbladian):
        return self._init(*_banded_parts(L, "NestedDissection"))

    @eqx.filter_jit
    def _init(self, L: BandedLindbladian, sigma):
        n = L.dim
        P = max(n - 1, 1)
        offsets, coef, blocks = _stencil_coefficients(L, P, sigma)
        plan = dissection_plan(n, self.leaf, offsets)
        cvec = jnp.concatenate([coef.astype(jnp.complex128).reshape(-1),
                                jnp.array([0.0, 1.0], jnp.complex128)])
        factors = []
        prev = token = None  # the previous level's Schur complements, one flat array per group
        for level in plan.levels:
            Ss, fac = [], []
            for lev in level:
                B, nE, nR = lev.shape
                F = cvec[lev.src]
                if prev is not None:
                    F = F + _gather_groups(prev, lev.child_mat)
                EE, ER, RE = F[:, :nE, :nE], F[:, :nE, nE:], F[:, nE:, :nE]
                if nE <= _GAUSS_JORDAN_MAX:
                    W = _gauss_jordan_inverse(EE)
                else:
                    EE = _after(token, EE)
                    eye = jnp.eye(nE, dtype=EE.dtype)
                    W = jax.vmap(lambda A, eye=eye: jsl.lu_solve(jsl.lu_factor(A), eye))(EE)
                    token = W
                X = W @ ER
                Ss.append((F[:, nE:, nE:] - RE @ X).reshape(-1))
                fac.append((W, X, RE))
            prev = Ss
            factors.append(tuple(fac))
        assert prev is not None  # a plan has at least the root level
        S0 = prev[0].reshape(n, n)  # the root: one front, ring = the populations
        c0 = jax.tree_util.tree_map(lambda x: x[0], blocks)  # the populations' row, d = 0
        M0 = jnp.real(_band_matrix(c0, L.jump_offsets, n)) + 2.0 * jnp.real(S0)
        svd = jnp.linalg.svd(M0)
        return dict(n=n, plan=plan, factors=tuple(factors), M0=M0, svd=svd)

    @eqx.filter_jit
    def compute(self, state, b, tau, pin=None):
        n, plan, factors = state["n"], state["plan"], state["factors"]
        gs = []
        if b is None:
            r0 = jnp.zeros(n)
        else:
            b = jnp.asarray(b, jnp.complex128)
            prev = None
            for level, fac in zip(plan.levels, factors):
                ups, g_level = [], []
                for lev, (W, X, RE) in zip(level, fac):
                    B, nE, nR = lev.shape
                    r = jnp.concatenate([jnp.where(lev.rho_ok, b[lev.rho_row, lev.rho_col], 0.0),
                                         jnp.zeros((B, nR), jnp.complex128)], axis=1)
                    if prev is not None:
                        r = r + _gather_groups(prev, lev.child_vec)
                    g = jnp.einsum("bij,bj->bi", W, r[:, :nE])
                    ups.append((r[:, nE:] - jnp.einsum("bre,be->br", RE, g)).reshape(-1))
                    g_level.append(g)
                prev = ups
                gs.append(g_level)
            assert prev is not None  # a plan has at least the root level
            r0 = jnp.real(jnp.diagonal(b)) + 2.0 * jnp.real(prev[0][:n])
        U, s, Vh = state["svd"]
        y0, pinned = _constrained_svd_solve(U, s, Vh, r0, tau, pin)
        # downward sweep by gathers only (transposable): Y = [0, y0, yE root level, ...]
        ring_pos, out_idx = plan.back_substitution
        Y = jnp.concatenate([jnp.zeros(1, jnp.complex128), y0.astype(jnp.complex128)])
        for i in range(len(plan.levels) - 1, -1, -1):
            for j, (lev, (_, X, _)) in enumerate(zip(plan.levels[i], factors[i])):
                yE = -jnp.einsum("ber,br->be", X, Y[ring_pos[i][j]])
                if gs:
                    yE = yE + gs[i][j]
                Y = jnp.concatenate([Y, jnp.where(lev.rho_ok, yE, 0.0).reshape(-1)])
        low = Y[out_idx]
        out = jnp.diag(y0.astype(jnp.complex128)) + low + jnp.conj(low).T
        return out, pinned

    def diagnostics(self, state):
        U, s, Vh = state["svd"]
        return _slow_diagnostics(U, s, Vh, state["M0"])
