r"""Coherent-state amplitudes in log space.

The Fock amplitudes of a coherent state $|\mu\rangle$, $\mu = r e^{i\theta}$, are

$$\langle n|\mu\rangle = e^{-r^2/2}\,\frac{\mu^n}{\sqrt{n!}}
  = \exp\!\Big(-\tfrac{r^2}{2} + n\ln r - \tfrac12\ln\Gamma(n+1)\Big)\,e^{i n\theta}.$$

Forming $\mu^n$ and $n!$ separately overflows in float64 for $n\gtrsim 170$ (and loses all
accuracy long before, e.g. $25^{250}\approx10^{349}$); the log form stays accurate (relative
error ~1e-15 times the size of the exponent) for any $|\mu|$ and $n$ used here (tested for
$|\mu|\le 25$, $n\le 250$ against mpmath). The modulus is a Poisson amplitude,
$|\langle n|\mu\rangle|^2 = e^{-r^2} r^{2n}/n! \le 1$, so nothing can overflow; values below
~1e-308 underflow to zero, which is their correct float64 value.

Convention: ``nmax`` is the Hilbert-space dimension (levels ``0..nmax-1``), as in
``qutip.destroy(nmax)``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import gammaln

from jaxent._validation import static_int


def _as_nmax(nmax) -> int:
    return static_int(nmax, "nmax", 1)


def log_coherent_modulus(r, nmax: int):
    r"""$\ln|\langle n|\mu\rangle|$ for $|\mu| = r$ and $n = 0..{\rm nmax}-1$.

    **Arguments:** ``r``: array of radii $r = |\mu| \ge 0$ (any shape ``S``); ``nmax``: static int.

    **Returns:** real array of shape ``S + (nmax,)``:
    $-r^2/2 + n\ln r - \tfrac12\ln\Gamma(n+1)$. At $r = 0$ the $n = 0$ entry is $0$ and the
    others are $-\infty$ (exact), with finite gradients (no ``0 * log 0`` NaN).
    """
    nmax = _as_nmax(nmax)
    r = jnp.asarray(r, dtype=jnp.float64)[..., None]
    n = jnp.arange(nmax, dtype=jnp.float64)
    positive = r > 0
    log_r = jnp.log(jnp.where(positive, r, 1.0))
    n_log_r = jnp.where(positive, n * log_r, jnp.where(n == 0, 0.0, -jnp.inf))
    return -0.5 * r**2 + n_log_r - 0.5 * gammaln(n + 1.0)


def coherent_modulus(r, nmax: int):
    r"""$|\langle n|\mu\rangle| = e^{-r^2/2} r^n/\sqrt{n!}$ for $n = 0..{\rm nmax}-1$, computed in
    log space (see :func:`log_coherent_modulus`). Shape ``r.shape + (nmax,)``, real."""
    return jnp.exp(log_coherent_modulus(r, nmax))


def coherent_amplitudes(mu, nmax: int):
    r"""Fock amplitudes $\langle n|\mu\rangle = e^{-|\mu|^2/2}\mu^n/\sqrt{n!}$,
    $n = 0..{\rm nmax}-1$.

    **Arguments:** ``mu``: complex array of any shape ``S``; ``nmax``: static int.

    **Returns:** complex128 array of shape ``S + (nmax,)``. These are the exact amplitudes of the
    infinite-dimensional coherent state restricted to the first ``nmax`` levels (not
    renormalised), which is what $\langle\mu|X|\mu\rangle$ needs for an operator $X$ that lives on
    those levels.
    """
    mu = jnp.asarray(mu, dtype=jnp.complex128)
    r = jnp.abs(mu)
    # arg(mu) with a gradient-safe value at mu = 0 (the phase is irrelevant there).
    theta = jnp.angle(jnp.where(r > 0, mu, 1.0))
    n = jnp.arange(_as_nmax(nmax), dtype=jnp.float64)
    return coherent_modulus(r, nmax) * jnp.exp(1j * n * theta[..., None])


def coherent_state(beta, nmax: int, normalize: bool = False):
    r"""Coherent state ket $|\beta\rangle$ truncated to ``nmax`` levels.

    **Arguments:** ``beta`` (complex scalar, traced: differentiable); ``nmax`` (static int);
    ``normalize``: if True, divide by the norm of the truncated vector (the omitted weight is
    $\Gamma({\rm nmax}, |\beta|^2)$-small when ${\rm nmax} \gg |\beta|^2$).

    **Returns:** complex128 vector of shape ``(nmax,)``; equals
    ``qutip.coherent(nmax, beta, method="analytic")``.
    """
    ket = coherent_amplitudes(beta, nmax)
    if normalize:
        ket = ket / jnp.linalg.norm(ket)
    return ket
