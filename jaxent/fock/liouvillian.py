r"""Lindblad generators: dense superoperator and matrix-free action.

Master equation (any model):

$$\mathcal L\rho = -i[H,\rho] + \sum_c \Big(c\rho c^\dagger - \tfrac12\{c^\dagger c,\rho\}\Big).$$

Rates are absorbed in the collapse operators, e.g. photon loss $2\kappa\mathcal D[a]$ of
[GFL20, Eq. (B1)] is ``c = sqrt(2 kappa) a``.

**Vectorisation convention** (the same as QuTiP): column stacking,
$\mathrm{vec}(\rho)_{m + n\,\cdot\,{\rm nmax}} = \rho_{mn}$, so that
$\mathrm{vec}(A\rho B) = (B^T\otimes A)\,\mathrm{vec}(\rho)$. In JAX:
``vec(rho) = rho.T.reshape(-1)`` and ``unvec(v) = v.reshape(nmax, nmax).T`` (see :func:`vec`,
:func:`unvec`). Dense Liouvillians are therefore directly comparable with
``qutip.liouvillian(H, c_ops).full()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from jaxent._validation import is_concrete as _is_concrete
from jaxent.interop import as_operator


def as_c_ops(c_ops, nmax: int | None = None) -> jnp.ndarray:
    """Stack collapse operators into a ``(k, nmax, nmax)`` complex array (``k`` may be 0).

    Accepts a sequence of ``(nmax, nmax)`` arrays or one ``(k, nmax, nmax)`` array.
    Raises ``ValueError`` naming ``c_ops`` on wrong shapes.
    """
    if c_ops is None:
        c_ops = []
    c_ops = as_operator(c_ops, "c_ops")  # a qutip.Qobj: one jump operator
    if isinstance(c_ops, (list, tuple)):
        c_ops = [as_operator(c, f"c_ops[{i}]") for i, c in enumerate(c_ops)]
        if len(c_ops) == 0:
            if nmax is None:
                raise ValueError("c_ops is empty and nmax is unknown")
            return jnp.zeros((0, nmax, nmax), jnp.complex128)
        shapes = [jnp.shape(c) for c in c_ops]
        for i, s in enumerate(shapes):
            if len(s) != 2 or s[0] != s[1] or (nmax is not None and s[0] != nmax):
                raise ValueError(f"c_ops[{i}] must be a square ({nmax}, {nmax}) matrix matching H, "
                                 f"got shape {s}")
        C = jnp.stack([jnp.asarray(c, jnp.complex128) for c in c_ops])
    else:
        C = jnp.asarray(c_ops, jnp.complex128)
        if C.ndim == 2:
            C = C[None]
        if C.ndim != 3 or C.shape[1] != C.shape[2] or (nmax is not None and C.shape[1] != nmax):
            raise ValueError(
                f"c_ops must have shape (k, {nmax}, {nmax}) matching H, got {jnp.shape(c_ops)}")
    return C


def check_hamiltonian(H) -> jnp.ndarray:
    """Return ``H`` as complex128 after checking it is a square 2-D matrix (and Hermitian when
    concrete); raises ``ValueError`` naming ``H`` otherwise."""
    H = jnp.asarray(as_operator(H, "H"), jnp.complex128)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square (nmax, nmax) matrix, got shape {H.shape}")
    if H.shape[0] < 1:
        raise ValueError("H must have nmax >= 1")
    if _is_concrete(H):
        Hn = np.asarray(H)
        if not np.all(np.isfinite(Hn)):
            raise ValueError("H contains NaN or inf")
        scale = max(1.0, float(np.max(np.abs(Hn))))
        if np.max(np.abs(Hn - Hn.conj().T)) > 1e-10 * scale:
            raise ValueError("H must be Hermitian")
    return H


def vec(rho: jnp.ndarray) -> jnp.ndarray:
    """Column-stacking vectorisation ``vec(rho)[m + n*nmax] = rho[m, n]`` (QuTiP's convention)."""
    return rho.T.reshape(-1)


def unvec(v: jnp.ndarray, nmax: int) -> jnp.ndarray:
    """Inverse of :func:`vec`."""
    return v.reshape(nmax, nmax).T


def liouvillian(H, c_ops: Sequence | jnp.ndarray = ()) -> jnp.ndarray:
    r"""Dense Lindblad superoperator in the column-stacking convention (module docstring).

    $$\mathcal L = -i(I\otimes H - H^T\otimes I)
      + \sum_c\Big(\bar c\otimes c - \tfrac12 I\otimes c^\dagger c
      - \tfrac12 (c^\dagger c)^T\otimes I\Big).$$

    **Arguments:** ``H`` ``(nmax, nmax)`` Hermitian; ``c_ops`` sequence of ``(nmax, nmax)`` (or a
    ``(k, nmax, nmax)`` array). **Returns:** ``(nmax**2, nmax**2)`` complex128. Memory grows as
    ``nmax**4``: use the structured operator and solver (:class:`~jaxent.lindblad.BandedLindbladian`
    with :class:`~jaxent.lindblad.BandedElimination`) beyond ``nmax ~ 60``.
    jit/vmap/grad-able in the entries of ``H`` and ``c_ops``.
    """
    H = check_hamiltonian(H)
    n = H.shape[0]
    C = as_c_ops(c_ops, n)
    eye = jnp.eye(n, dtype=jnp.complex128)
    L = -1j * (jnp.kron(eye, H) - jnp.kron(H.T, eye))
    for c in C:
        cdc = c.conj().T @ c
        L = L + jnp.kron(c.conj(), c) - 0.5 * jnp.kron(eye, cdc) - 0.5 * jnp.kron(cdc.T, eye)
    return L


def apply_liouvillian(H, c_ops, rho) -> jnp.ndarray:
    r"""Matrix-free action of the Liouvillian on ``rho``:
    $\mathcal L\rho = -i[H,\rho] + \sum_c (c\rho c^\dagger - \frac12\{c^\dagger c,\rho\})$.

    Costs ``O(k nmax^3)`` and no superoperator storage; works for any model.
    ``vec(apply_liouvillian(H, c_ops, rho)) == liouvillian(H, c_ops) @ vec(rho)``. The same
    as ``DenseLindbladian.from_operators(H, c_ops).mv(rho)`` (:mod:`jaxent.lindblad.operators`),
    which it calls, with a shape check of ``rho``.
    """
    # imported here: jaxent.lindblad.operators imports this module
    from jaxent.lindblad.operators import DenseLindbladian

    L = DenseLindbladian.from_operators(H, c_ops)
    n = L.dim
    rho = jnp.asarray(as_operator(rho, "rho"), jnp.complex128)
    if rho.shape != (n, n):
        raise ValueError(f"rho must have shape ({n}, {n}) matching H, got {rho.shape}")
    return L.mv(rho)
