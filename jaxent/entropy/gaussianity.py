r"""Non-Gaussianity of a single bosonic mode [GFL-quench, Eq. (27)].

$G(\rho) = D(\rho\,\|\,\rho_G) = S(\rho_G) - S(\rho)$, where $\rho_G$ is the Gaussian state with
the same first and second moments as $\rho$ and $S(\rho) = -{\rm tr}\,\rho\ln\rho$ (nats). The
relative entropy reduces to this difference because $\ln\rho_G$ is a quadratic polynomial in
$a, a^\dagger$, so ${\rm tr}\,\rho\ln\rho_G = {\rm tr}\,\rho_G\ln\rho_G$ (the two states share
every moment of order $\le 2$). $G \ge 0$, with equality iff $\rho$ is Gaussian.

Conventions (those of :mod:`jaxent.gaussian.covariance`): $x = (a + a^\dagger)/\sqrt2$,
$p = (a - a^\dagger)/(i\sqrt2)$, $\sigma_{ij} = \tfrac12\langle\{\delta r_i, \delta r_j\}\rangle$,
vacuum $\sigma = I/2$. With $\delta a = a - \langle a\rangle$,
$\bar n = \langle\delta a^\dagger\delta a\rangle
= \langle a^\dagger a\rangle - |\langle a\rangle|^2$ and
$m = \langle\delta a\,\delta a\rangle = \langle a^2\rangle - \langle a\rangle^2$, expanding
$\delta x = (\delta a + \delta a^\dagger)/\sqrt2$,
$\delta p = (\delta a - \delta a^\dagger)/(i\sqrt2)$ and using
$\delta a\,\delta a^\dagger = \delta a^\dagger\delta a + 1$ gives

$$\sigma = \begin{pmatrix} \bar n + \tfrac12 + {\rm Re}\,m & {\rm Im}\,m \\
                           {\rm Im}\,m & \bar n + \tfrac12 - {\rm Re}\,m \end{pmatrix},$$

(e.g. $\sigma_{xp} = \tfrac12\langle\delta x\delta p + \delta p\delta x\rangle
= \langle\delta a^2 - \delta a^{\dagger 2}\rangle/(2i) = {\rm Im}\,m$), whose symplectic eigenvalue
is $\nu = \sqrt{\det\sigma} = \sqrt{(\bar n + \tfrac12)^2 - |m|^2}$ and
$S(\rho_G) = g(\nu - \tfrac12)$, $g(N) = (N+1)\ln(N+1) - N\ln N$
(:func:`jaxent.gaussian.entropies.von_neumann_entropy`, same conventions).

Truncation: $\rho$ is an ``(nmax, nmax)`` density matrix in the Fock basis and the moments are
${\rm tr}(a\rho)$, ${\rm tr}(a^\dagger a\rho)$, ${\rm tr}(a^2\rho)$ with the truncated
$a$ of :func:`jaxent.fock.operators.destroy`. The truncated $a$, $a^\dagger a$ and $a^2$ have the
same matrix elements as the infinite ones inside the ``nmax`` levels, so these are the exact
moments of $\rho$ regarded as a state of the untruncated mode, and the commutator step above
uses the exact $[a, a^\dagger] = 1$: $G$ is exact for that state. Truncation matters only if
$\rho$ has weight in the top Fock level $|{\rm nmax}-1\rangle$: then $\rho$ is probably a cut-off
approximation of a state with weight beyond ``nmax``, and a covariance built from the truncated
quadrature matrices (where
$[a, a^\dagger] = 1 - {\rm nmax}\,|{\rm nmax}-1\rangle\langle{\rm nmax}-1|$) would differ from
$\sigma$ by $-{\rm nmax}\,\rho_{{\rm nmax}-1,{\rm nmax}-1}/2$ on the diagonal.
``rho`` is assumed normalised (trace 1); only its Hermitian part $(\rho + \rho^\dagger)/2$
is used.

All functions are pure ``jnp`` (no branching on values): ``jax.jit``- and ``jax.vmap``-able.
Shapes are checked eagerly (a ``ValueError`` starting with ``"rho:"``); batch with
``jax.vmap``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxent.fock.operators import destroy
from jaxent.gaussian.entropies import von_neumann_entropy
from jaxent.interop import as_operator

__all__ = ["von_neumann_entropy_state", "gaussian_covariance", "non_gaussianity"]


def _hermitian_state(rho: ArrayLike) -> Array:
    """Shape check (static, so it also runs on tracers) and the Hermitian part as complex128."""
    rho = as_operator(rho, "rho", single_mode=True)
    shape = tuple(jnp.shape(rho))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"rho: must be a square (nmax, nmax) matrix, got shape {shape}; "
                         "batch with jax.vmap")
    if shape[0] < 1:
        raise ValueError(f"rho: must be a square (nmax, nmax) matrix with nmax >= 1, "
                         f"got shape {shape}")
    rho = jnp.asarray(rho, dtype=jnp.complex128)
    return 0.5 * (rho + jnp.conj(rho.T))


def _expect(op: Array, rho: Array) -> Array:
    """``tr(op rho)`` without forming the product."""
    return jnp.einsum("ij,ji->", op, rho)


def von_neumann_entropy_state(rho: ArrayLike) -> Array:
    r"""Von Neumann entropy $S(\rho) = -\sum_k p_k\ln p_k$ (nats) of a density matrix.

    **Arguments:** ``rho``, ``(nmax, nmax)`` density matrix (any basis; normalised).

    **Returns:** real scalar. The $p_k$ are the eigenvalues (``eigvalsh``) of the Hermitian
    part of ``rho``; eigenvalues $\le 0$ (rounding on pure or low-rank states) contribute 0, so
    the result and its ``jax.grad`` are finite (no NaN) for finite input. Enters $G$ of
    [GFL-quench, Eq. (27)].
    """
    rho = _hermitian_state(rho)
    p = jnp.linalg.eigvalsh(rho)
    # Double `where`: eigenvalues <= 0 give 0 and the log never sees them, so jax.grad stays
    # finite on pure states too (xlogy(max(p, 0), ...) has a 0 * inf = NaN derivative at 0).
    pos = p > 0
    return -jnp.sum(jnp.where(pos, p * jnp.log(jnp.where(pos, p, 1.0)), 0.0))


def gaussian_covariance(rho: ArrayLike) -> Array:
    r"""Covariance matrix $\sigma$ of the Gaussian state $\rho_G$ with the moments of ``rho``
    [GFL-quench, Eq. (27)].

    $\sigma = \begin{pmatrix} \bar n + \tfrac12 + {\rm Re}\,m & {\rm Im}\,m \\
    {\rm Im}\,m & \bar n + \tfrac12 - {\rm Re}\,m \end{pmatrix}$ with
    $\bar n = \langle a^\dagger a\rangle - |\langle a\rangle|^2$ and
    $m = \langle a^2\rangle - \langle a\rangle^2$, in the quadrature order $(x, p)$ and the
    conventions of :mod:`jaxent.gaussian.covariance` (vacuum and coherent states:
    $\sigma = I/2$; thermal state: $(\bar n + \tfrac12) I$). Moments use the truncated
    :func:`~jaxent.fock.operators.destroy`; they are the exact moments of ``rho`` as a state of
    the untruncated mode (see the module docstring: truncation matters only if ``rho`` has
    weight in the top Fock level).

    **Arguments:** ``rho``, ``(nmax, nmax)`` density matrix in the Fock basis (normalised).

    **Returns:** ``(2, 2)`` real symmetric array.
    """
    rho = _hermitian_state(rho)
    a = destroy(rho.shape[0])
    mean = _expect(a, rho)
    n_tot = jnp.real(_expect(jnp.conj(a.T) @ a, rho))
    nbar = n_tot - jnp.real(mean * jnp.conj(mean))
    m = _expect(a @ a, rho) - mean**2
    d = nbar + 0.5
    re, im = jnp.real(m), jnp.imag(m)
    return jnp.array([[d + re, im], [im, d - re]])


def non_gaussianity(rho: ArrayLike) -> Array:
    r"""Non-Gaussianity $G(\rho) = D(\rho\|\rho_G) = S(\rho_G) - S(\rho)$ [GFL-quench, Eq. (27)]
    (nats) of a single-mode state.

    $S(\rho_G) = g(\nu - \tfrac12)$, $g(N) = (N+1)\ln(N+1) - N\ln N$, with
    $\nu = \sqrt{\det\sigma}$ the symplectic eigenvalue of
    :func:`gaussian_covariance` (computed by
    :func:`jaxent.gaussian.entropies.von_neumann_entropy`, which clips rounding below
    $\nu = 1/2$, so pure Gaussian states give $S(\rho_G) = 0$ up to rounding, without NaN);
    $S(\rho)$ from :func:`von_neumann_entropy_state`.

    **Arguments:** ``rho``, ``(nmax, nmax)`` density matrix in the Fock basis (normalised).

    **Returns:** real scalar, $\ge 0$ up to rounding: the raw difference is returned (no
    clipping), so Gaussian states give values of order $\pm 10^{-14}$. Examples: $0$ for
    coherent, thermal and squeezed states; $g(n)$ for the Fock state $|n\rangle$.
    """
    rho = _hermitian_state(rho)
    return von_neumann_entropy(gaussian_covariance(rho)) - von_neumann_entropy_state(rho)
