"""Truncated single-mode Fock-space operators.

Convention: ``nmax`` is the Hilbert-space *dimension* (Fock states ``|0>, ..., |nmax-1>``), the
same as QuTiP's ``N`` in ``qutip.destroy(N)``. Matrices are dense ``complex128`` JAX arrays
(float64 is enabled by ``import jaxent``), indexed ``[row, column] = <m| . |n>``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxent._validation import static_int

_check_nmax = static_int


def destroy(nmax: int) -> jnp.ndarray:
    r"""Annihilation operator $a$ truncated to ``nmax`` levels: $a|n\rangle = \sqrt{n}|n-1\rangle$.

    **Arguments:** ``nmax``, the Hilbert-space dimension (static Python int).

    **Returns:** ``(nmax, nmax)`` complex128 array with ``a[n-1, n] = sqrt(n)``.
    """
    n = _check_nmax(nmax)
    return jnp.diag(jnp.sqrt(jnp.arange(1, n, dtype=jnp.float64)), k=1).astype(jnp.complex128)


def create(nmax: int) -> jnp.ndarray:
    r"""Creation operator $a^\dagger$ truncated to ``nmax`` levels (the adjoint of :func:`destroy`;
    $a^\dagger|{\rm nmax}-1\rangle = 0$ by truncation)."""
    return destroy(nmax).T


def number(nmax: int) -> jnp.ndarray:
    r"""Number operator $a^\dagger a = {\rm diag}(0, 1, \ldots, {\rm nmax}-1)$."""
    n = _check_nmax(nmax)
    return jnp.diag(jnp.arange(n, dtype=jnp.float64)).astype(jnp.complex128)


def identity(nmax: int) -> jnp.ndarray:
    """Identity on the ``nmax``-level Fock space (complex128)."""
    n = _check_nmax(nmax)
    return jnp.eye(n, dtype=jnp.complex128)


def expect(op: jnp.ndarray, rho: jnp.ndarray) -> jnp.ndarray:
    r"""$\mathrm{tr}(O\rho)$ (complex; take the real part for Hermitian ``op``)."""
    return jnp.sum(op.T * rho)
