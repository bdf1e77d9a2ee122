r"""Lindblad generators as small :mod:`equinox` Modules with one interface.

$$\mathcal L\rho = -i[H,\rho] + \sum_c \Big(c\rho c^\dagger - \tfrac12\{c^\dagger c,\rho\}\Big)$$

(rates absorbed in the jump operators: photon loss $2\kappa\mathcal D[a]$ [GFL20, Eq. (B1)] is
``c = sqrt(2 kappa) a``). Every operator offers:

- ``mv(rho)``: $\mathcal L\rho$ for a dense ``(n, n)`` matrix (never builds the superoperator);
- ``adjoint_mv(X)``: the Hilbert-Schmidt adjoint $\mathcal L^\dagger X = i[H,X] + \sum_c
  (c^\dagger X c - \frac12\{c^\dagger c, X\})$ (Heisenberg picture);
- ``as_matrix()``: the dense ``(n^2, n^2)`` superoperator, column-stacking convention as QuTiP
  (:func:`jaxent.fock.liouvillian.liouvillian`);
- ``hamiltonian()`` and ``jump_ops()``: dense ``H`` and the stacked ``(k, n, n)`` jump operators,
  one per dissipation channel, in the order the entropy layer expects;
- ``dim``: the Hilbert-space dimension ``n`` (static).

Kinds:

- :class:`DenseLindbladian`: any ``H`` and jump operators, e.g. several modes as tensor products
  (``jnp.kron``); a two-mode model is a :class:`DenseLindbladian` and needs nothing else above it.
- :class:`BandedLindbladian`: one mode with a tridiagonal ``H`` (a coherent drive changes the photon
  number by at most one) and single-band jump operators $c = \sum_j v_j|j\rangle\langle j+s|$ (loss
  ``s = 1``, gain ``s = -1``, dephasing ``s = 0``), which conserve $d = m - n$ of $\rho_{mn}$. This
  is the structure :class:`jaxent.lindblad.solvers.BandedElimination` exploits; ``mv`` costs
  ``O(n^2)``.

All array fields are traced (``jax.grad`` and ``jax.vmap`` reach them); only the band offsets are
static. Models build these (e.g. :func:`jaxent.models.kerr.kerr_lindbladian`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent.fock.liouvillian import as_c_ops, check_hamiltonian, liouvillian


class AbstractLindbladian(eqx.Module):
    """Interface shared by every Lindbladian (see the module docstring)."""

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def hamiltonian(self) -> jax.Array:
        raise NotImplementedError

    def jump_ops(self) -> jax.Array:
        raise NotImplementedError

    def mv(self, rho: jax.Array) -> jax.Array:
        r"""$\mathcal L\rho$ for a dense ``(n, n)`` ``rho``."""
        H, C = self.hamiltonian(), self.jump_ops()
        out = -1j * (H @ rho - rho @ H)
        for c in C:
            cd = c.conj().T
            cdc = cd @ c
            out = out + c @ rho @ cd - 0.5 * (cdc @ rho + rho @ cdc)
        return out

    def adjoint_mv(self, X: jax.Array) -> jax.Array:
        r"""$\mathcal L^\dagger X$ (Hilbert-Schmidt adjoint: $\mathrm{tr}(X^\dagger\mathcal L\rho)
        = \mathrm{tr}((\mathcal L^\dagger X)^\dagger\rho)$)."""
        H, C = self.hamiltonian(), self.jump_ops()
        out = 1j * (H @ X - X @ H)
        for c in C:
            cd = c.conj().T
            cdc = cd @ c
            out = out + cd @ X @ c - 0.5 * (cdc @ X + X @ cdc)
        return out

    def mv_pair(self, y: jax.Array) -> jax.Array:
        r"""$\mathcal L\rho$ on the real pair ``y = stack([Re rho, Im rho])`` ``(2, n, n)``,
        returned as the same pair: the form a real ODE state takes (a time stepper)."""
        out = self.mv(y[0] + 1j * y[1])
        return jnp.stack([jnp.real(out), jnp.imag(out)])

    def as_matrix(self) -> jax.Array:
        """Dense ``(n^2, n^2)`` superoperator (column stacking, as QuTiP)."""
        return liouvillian(self.hamiltonian(), self.jump_ops())

    def diagonal(self) -> jax.Array:
        r"""The diagonal of the superoperator in the Fock basis, ``(n, n)`` complex: entry
        ``[m, n]`` is $\mathcal L_{mn,mn} = -i(H_{mm} - H_{nn}) + \sum_c [c_{mm}\bar c_{nn}
        - \frac12((c^\dagger c)_{mm} + (c^\dagger c)_{nn})]$ (a preconditioner; its real part
        holds the bare decay rates of the matrix elements). ``O(k n^2)``."""
        H, C = self.hamiltonian(), self.jump_ops()
        h = jnp.real(jnp.diagonal(H))
        cd = jnp.diagonal(C, axis1=1, axis2=2)  # (k, n)
        cdc = jnp.real(jnp.einsum("kji,kji->ki", jnp.conj(C), C))  # diagonal of c^dag c
        return (-1j * (h[:, None] - h[None, :])
                + jnp.einsum("km,kn->mn", cd, jnp.conj(cd))
                - 0.5 * jnp.sum(cdc[:, :, None] + cdc[:, None, :], axis=0))

    def prepared(self) -> "AbstractLindbladian":
        """The same operator in the form whose ``mv`` is cheapest when applied many times (a
        time stepper, a Krylov method): coefficients that do not depend on ``rho`` are
        computed once here. The base class returns itself."""
        return self


class DenseLindbladian(AbstractLindbladian):
    """Any Lindbladian, stored as a dense ``H`` ``(n, n)`` and jump operators ``(k, n, n)``.

    Build with :meth:`from_operators` (checks shapes and, for concrete values, Hermiticity of
    ``H``: ``ValueError`` naming ``H`` or ``c_ops``).
    """

    H: jax.Array
    c_ops: jax.Array

    @classmethod
    def from_operators(cls, H, c_ops=()) -> "DenseLindbladian":
        H = check_hamiltonian(H)
        return cls(H=H, c_ops=as_c_ops(c_ops, H.shape[0]))

    @property
    def dim(self) -> int:
        return self.H.shape[0]

    def hamiltonian(self) -> jax.Array:
        return self.H

    def jump_ops(self) -> jax.Array:
        return self.c_ops


def _shift(x: jax.Array, k: int, axis: int) -> jax.Array:
    """``y[..., i, ...] = x[..., i + k, ...]`` along ``axis``, zero where ``i + k`` is outside."""
    if k == 0:
        return x
    n = x.shape[axis]
    if abs(k) >= n:
        return jnp.zeros_like(x)
    pad = [(0, 0)] * x.ndim
    if k > 0:
        pad[axis] = (0, k)
        return jax.lax.slice_in_dim(jnp.pad(x, pad), k, k + n, axis=axis)
    pad[axis] = (-k, 0)
    return jax.lax.slice_in_dim(jnp.pad(x, pad), 0, n, axis=axis)


class BandedLindbladian(AbstractLindbladian):
    r"""One mode: tridiagonal ``H`` and single-band jump operators (module docstring).

    Fields: ``h_diag`` ``(n,)`` real, $H_{kk}$; ``h_low`` ``(n-1,)`` complex, $e_k = H_{k+1,k}$
    (the upper band is its conjugate); ``jump_vals`` tuple of ``(n,)`` complex, ``v[j] = c[j, j+s]``
    (zero where ``j + s`` is outside the space); ``jump_offsets`` (static) the offsets ``s``.
    """

    h_diag: jax.Array
    h_low: jax.Array
    jump_vals: tuple
    jump_offsets: tuple = eqx.field(static=True)

    @property
    def dim(self) -> int:
        return self.h_diag.shape[0]

    @classmethod
    def from_dense(cls, H, c_ops=(), offsets=None) -> "BandedLindbladian":
        """Extract the bands of a dense ``H`` and jump operators.

        ``offsets`` (one int per jump operator) is required under ``jit``; with concrete arrays
        it is detected and the structure checked (``ValueError`` naming ``H`` or ``c_ops``).
        """
        from jaxent._validation import is_concrete

        H = check_hamiltonian(H)
        n = H.shape[0]
        C = as_c_ops(c_ops, n)
        concrete = is_concrete(H, C)
        if concrete:
            band = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) > 1
            if np.any(np.abs(np.asarray(H)[band]) > 0):
                raise ValueError("H must be tridiagonal in the Fock basis for a banded Lindbladian")
        if offsets is None:
            if not concrete:
                raise ValueError("c_ops: pass offsets=(...) when building under jit")
            offsets = []
            for i, c in enumerate(np.asarray(C)):
                nz = np.argwhere(np.abs(c) > 0)
                diffs = np.unique(nz[:, 1] - nz[:, 0]) if len(nz) else np.array([0])
                if len(diffs) != 1:
                    raise ValueError(f"c_ops[{i}] must have a single band (c[j, j+s]); found "
                                     f"offsets {diffs.tolist()}")
                offsets.append(int(diffs[0]))
        offsets = tuple(int(s) for s in offsets)
        if len(offsets) != C.shape[0]:
            raise ValueError(f"offsets must have one entry per jump operator ({C.shape[0]})")
        j = np.arange(n)
        vals = []
        for c, s in zip(C, offsets):
            ok = (j + s >= 0) & (j + s < n)
            vals.append(jnp.where(jnp.asarray(ok), c[j, np.clip(j + s, 0, n - 1)], 0.0)
                        .astype(jnp.complex128))
        return cls(h_diag=jnp.real(jnp.diagonal(H)), h_low=jnp.diagonal(H, offset=-1),
                   jump_vals=tuple(vals), jump_offsets=offsets)

    def hamiltonian(self) -> jax.Array:
        return (jnp.diag(self.h_diag.astype(jnp.complex128)) + jnp.diag(self.h_low, -1)
                + jnp.diag(jnp.conj(self.h_low), 1))

    def jump_ops(self) -> jax.Array:
        n = self.dim
        j = np.arange(n)
        out = []
        for v, s in zip(self.jump_vals, self.jump_offsets):
            ok = (j + s >= 0) & (j + s < n)
            out.append(jnp.zeros((n, n), jnp.complex128).at[j[ok], j[ok] + s].set(v[j[ok]]))
        return jnp.stack(out) if out else jnp.zeros((0, n, n), jnp.complex128)

    def decay_rates(self) -> jax.Array:
        r"""Diagonal of $\sum_c c^\dagger c$: ``(n,)`` real."""
        n = self.dim
        out = jnp.zeros(n)
        for v, s in zip(self.jump_vals, self.jump_offsets):
            # (c^dag c)_{j+s, j+s} = |v_j|^2
            out = out + _shift(jnp.abs(v) ** 2, -s, 0)
        return out

    def _h_apply(self, rho):
        """``H rho`` as band shifts."""
        h = self.h_diag.astype(jnp.complex128)
        e = jnp.concatenate([self.h_low, jnp.zeros(1, jnp.complex128)])  # e_k = H[k+1, k]
        # (H rho)[m, :] = h_m rho[m] + e_{m-1} rho[m-1] + conj(e_m) rho[m+1]
        return (h[:, None] * rho + _shift(e, -1, 0)[:, None] * _shift(rho, -1, 0)
                + jnp.conj(e)[:, None] * _shift(rho, 1, 0))

    def mv(self, rho: jax.Array) -> jax.Array:
        rho = jnp.asarray(rho, jnp.complex128)
        Hr = self._h_apply(rho)
        rH = self._h_apply(rho.conj().T).conj().T  # rho H = (H rho^dag)^dag
        out = -1j * (Hr - rH)
        g = self.decay_rates()
        out = out - 0.5 * (g[:, None] + g[None, :]) * rho
        for v, s in zip(self.jump_vals, self.jump_offsets):
            # (c rho c^dag)[m, n] = v_m rho[m+s, n+s] conj(v_n)
            out = out + v[:, None] * _shift(_shift(rho, s, 0), s, 1) * jnp.conj(v)[None, :]
        return out

    def stencil(self) -> "StencilLindbladian":
        """This operator as a stencil on the ``(m, n)`` lattice: :class:`StencilLindbladian`."""
        h = self.h_diag.astype(jnp.complex128)
        e = jnp.concatenate([self.h_low, jnp.zeros(1, jnp.complex128)])  # e_k = H[k+1, k]
        e_prev = _shift(e, -1, 0)  # e_{k-1}, zero at k = 0
        g = self.decay_rates()
        diag = -1j * (h[:, None] - h[None, :]) - 0.5 * (g[:, None] + g[None, :])
        # the Hamiltonian's neighbours depend on one index only: kept as (n, 1) / (1, n)
        # columns and rows, broadcast inside the fused multiply-add of mv
        coefs = {(0, 0): diag,
                 (-1, 0): (-1j * e_prev)[:, None],
                 (1, 0): (-1j * jnp.conj(e))[:, None],
                 (0, -1): (1j * jnp.conj(e_prev))[None, :],
                 (0, 1): (1j * e)[None, :]}
        for v, s in zip(self.jump_vals, self.jump_offsets):
            c = v[:, None] * jnp.conj(v)[None, :]
            coefs[(s, s)] = coefs[(s, s)] + c if (s, s) in coefs else c
        offsets = tuple(sorted(coefs))
        return StencilLindbladian(coefs=tuple(coefs[o] for o in offsets), offsets=offsets,
                                  banded=self)

    def prepared(self) -> "StencilLindbladian":
        return self.stencil()

    def adjoint_mv(self, X: jax.Array) -> jax.Array:
        X = jnp.asarray(X, jnp.complex128)
        HX = self._h_apply(X)
        XH = self._h_apply(X.conj().T).conj().T
        out = 1j * (HX - XH)
        g = self.decay_rates()
        out = out - 0.5 * (g[:, None] + g[None, :]) * X
        for v, s in zip(self.jump_vals, self.jump_offsets):
            # (c^dag X c)[p, q] = conj(v_{p-s}) X[p-s, q-s] v_{q-s}
            w = _shift(jnp.conj(v)[:, None] * X * v[None, :], -s, 0)
            out = out + _shift(w, -s, 1)
        return out


class ShiftedLindbladian(AbstractLindbladian):
    r"""$\mathcal L - \sigma$: a Lindbladian shifted by ``sigma`` times the identity superoperator,
    for spectral transformations (the shift-invert Arnoldi of
    :func:`~jaxent.lindblad.liouvillian_spectrum`), not a generator of dynamics: for
    $\sigma \ne 0$ it does not preserve the trace ($\mathrm{tr}(\mathcal L - \sigma)y =
    -\sigma\,\mathrm{tr}\,y$), so it maps the traceless matrices onto themselves and, for real
    $\sigma > 0$, is invertible on every matrix (the spectrum of $\mathcal L$ lies in
    ${\rm Re}\,\lambda \le 0$). ``mv``, ``adjoint_mv``, ``as_matrix`` and
    ``diagonal`` include the shift; ``hamiltonian()`` and ``jump_ops()`` are those of ``base``
    (they cannot express it). Every solver solves with it:
    :class:`~jaxent.lindblad.BandedElimination` and :class:`~jaxent.lindblad.NestedDissection`
    factorise it when ``base`` is a :class:`BandedLindbladian`,
    :class:`~jaxent.lindblad.DenseSolver` any, and :class:`~jaxent.lindblad.KrylovSolver`
    iterates on its ``mv``. Fields: ``base``, ``sigma`` (real scalar, traced)."""

    base: AbstractLindbladian
    sigma: jax.Array

    @property
    def dim(self) -> int:
        return self.base.dim

    def hamiltonian(self) -> jax.Array:
        return self.base.hamiltonian()

    def jump_ops(self) -> jax.Array:
        return self.base.jump_ops()

    def mv(self, rho: jax.Array) -> jax.Array:
        return self.base.mv(rho) - self.sigma * jnp.asarray(rho, jnp.complex128)

    def adjoint_mv(self, X: jax.Array) -> jax.Array:
        return self.base.adjoint_mv(X) - self.sigma * jnp.asarray(X, jnp.complex128)

    def as_matrix(self) -> jax.Array:
        n = self.dim
        return self.base.as_matrix() - self.sigma * jnp.eye(n * n, dtype=jnp.complex128)

    def diagonal(self) -> jax.Array:
        return self.base.diagonal() - self.sigma

    def prepared(self) -> "ShiftedLindbladian":
        return ShiftedLindbladian(base=self.base.prepared(), sigma=self.sigma)


class StencilLindbladian(AbstractLindbladian):
    r"""A :class:`BandedLindbladian` as a stencil on the $(m, n)$ lattice:
    $(\mathcal L\rho)_{mn} = \sum_o C_o[m, n]\,\rho_{m + o_1, n + o_2}$ over at most 7 offsets
    $o$ (the Hamiltonian's four neighbours, the centre, and one diagonal neighbour per jump
    band), with the coefficients $C_o$ precomputed (``(n, n)``, or ``(n, 1)``/``(1, n)`` where
    they depend on one index only). ``mv`` is then one padded copy and a fused
    multiply-add over the offsets: what a time stepper calls thousands of times
    (:func:`jaxent.lindblad.evolution.evolve`). Built by :meth:`BandedLindbladian.stencil`;
    everything but ``mv`` is delegated to the banded operator.
    """

    coefs: tuple
    offsets: tuple = eqx.field(static=True)
    banded: BandedLindbladian
    coefs_re: tuple = ()
    coefs_im: tuple = ()

    def __post_init__(self):
        if not self.coefs_re:  # the real and imaginary parts, once, for mv_pair
            self.coefs_re = tuple(jnp.real(c) for c in self.coefs)
            self.coefs_im = tuple(jnp.imag(c) for c in self.coefs)

    @property
    def dim(self) -> int:
        return self.banded.dim

    def hamiltonian(self) -> jax.Array:
        return self.banded.hamiltonian()

    def jump_ops(self) -> jax.Array:
        return self.banded.jump_ops()

    def adjoint_mv(self, X: jax.Array) -> jax.Array:
        return self.banded.adjoint_mv(X)

    def mv(self, rho: jax.Array) -> jax.Array:
        n = self.dim
        w = max(abs(x) for o in self.offsets for x in o)
        p = jnp.pad(jnp.asarray(rho, jnp.complex128), w)
        out: jax.Array | float = 0.0
        for c, (dm, dn) in zip(self.coefs, self.offsets):
            out = out + c * jax.lax.dynamic_slice(p, (w + dm, w + dn), (n, n))
        return jnp.asarray(out)

    def mv_pair(self, y: jax.Array) -> jax.Array:
        # real arithmetic throughout: XLA's CPU loops vectorise it, not complex products
        # (measured 2.4x faster than mv at n = 112 inside an ODE loop)
        n = self.dim
        w = max(abs(x) for o in self.offsets for x in o)
        p = jnp.pad(jnp.asarray(y, jnp.float64), ((0, 0), (w, w), (w, w)))
        re: jax.Array | float = 0.0
        im: jax.Array | float = 0.0
        for cr, ci, (dm, dn) in zip(self.coefs_re, self.coefs_im, self.offsets):
            s = jax.lax.dynamic_slice(p, (0, w + dm, w + dn), (2, n, n))
            re = re + cr * s[0] - ci * s[1]
            im = im + cr * s[1] + ci * s[0]
        return jnp.stack([jnp.asarray(re), jnp.asarray(im)])
