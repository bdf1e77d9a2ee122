"""jaxent's exact Kerr NESS moments and their jax derivatives vs the independent mpmath reference
(:mod:`tests.kerr_reference`), plus sanity checks of the reference itself."""

import functools
import os
import sys

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxent.models.kerr import Kerr, default_n_terms, kerr_exact_moments

sys.path.insert(0, os.path.dirname(__file__))
from kerr_reference import (  # noqa: E402
    exact_moment_derivatives_mp,
    exact_moments_hyper_mp,
    exact_moments_mp,
    exact_moments_numdiff_mp,
)

DIFF_PARAMS = ("eps", "kappa", "delta", "u")
MOMENTS = ("n", "a_re", "a_im")


def _rel(x, ref):
    return float(abs(mp.mpc(x) - ref) / abs(ref))


# ------------------------------------------------------------------------------------------
# the reference itself


@pytest.mark.parametrize("N,eps", [(40, 1.3), (40, 0.933), (20, 0.95), (5, 0.5), (10, 1.1)])
def test_reference_series_matches_mpmath_hyper(N, eps):
    """Own series sum == mpmath.hyper (also at z = 2|xi|^2 ~ 8.6e5, N = 40, eps = 1.3)."""
    ref = exact_moments_mp(eps, N)
    hyp = exact_moments_hyper_mp(eps, N)
    assert abs(ref["n"] - hyp["n"]) / ref["n"] < mp.mpf(10) ** -45
    assert abs(ref["a"] - hyp["a"]) / abs(ref["a"]) < mp.mpf(10) ** -45


@pytest.mark.parametrize("N,eps,kappa,delta,u",
                         [(40, 0.933, 0.5, -2.0, 1.0), (10, 0.6, 0.5, -2.0, 1.0),
                          (3, 0.8, 0.7, -1.5, 0.8)])
def test_reference_derivatives_match_numerical_diff(N, eps, kappa, delta, u):
    """Analytic series derivatives == mpmath.diff (extrapolated numerical) to >= 30 digits."""
    params = ("eps", "N", "kappa", "delta", "u")
    an = exact_moment_derivatives_mp(eps, N, kappa, delta, u, params=params)
    nd = exact_moments_numdiff_mp(eps, N, kappa, delta, u, params=params, dps=40)
    for key, val in an.items():
        assert abs(val - nd[key]) <= mp.mpf(10) ** -30 * max(abs(val), 1), key


def test_reference_derivatives_precision_independent():
    """dps = 30 and dps = 60 agree to >= 25 digits."""
    lo = exact_moment_derivatives_mp(0.933, 30, dps=30)
    hi = exact_moment_derivatives_mp(0.933, 30, dps=60)
    for key in hi:
        assert abs(lo[key] - hi[key]) <= mp.mpf(10) ** -25 * abs(hi[key]), key


def test_reference_weak_nonlinearity_limit():
    """u -> 0: the NESS tends to the coherent state alpha = E/(kappa + i Delta) of
    da/dt = -(kappa + i Delta) a + E, with O(u) corrections."""
    eps, N, kappa, delta = 0.5, 1.0, 0.5, -2.0
    alpha = mp.mpc(eps * np.sqrt(N)) / mp.mpc(kappa, delta)
    errs = []
    for u in (1e-3, 1e-4, 1e-5, 1e-6):
        r = exact_moments_mp(eps, N, kappa, delta, u)
        ea = abs(r["a"] - alpha) / abs(alpha)
        en = abs(r["n"] - abs(alpha) ** 2) / abs(alpha) ** 2
        errs.append((u, float(ea), float(en)))
    for u, ea, en in errs:
        assert ea < 1.0 * u and en < 1.0 * u, (u, ea, en)
    # linear in u: the ratio of errors at successive u is ~10
    for (u1, a1, n1), (u2, a2, n2) in zip(errs, errs[1:]):
        assert 9.0 < a1 / a2 < 11.0 and 9.0 < n1 / n2 < 11.0


# ------------------------------------------------------------------------------------------
# jaxent vs reference: values

VALUE_N = (5, 10, 20, 30, 40)
VALUE_EPS = (0.5, 0.8, 0.92, 0.933, 0.95, 1.1, 1.3)


@pytest.mark.parametrize("N", VALUE_N)
def test_exact_moments_vs_reference(N):
    worst = 0.0
    for eps in VALUE_EPS:
        ref = exact_moments_mp(eps, N)
        mom = kerr_exact_moments(Kerr(eps=eps, N=N))
        en, ea = _rel(complex(mom.n), ref["n"]), _rel(complex(mom.a), ref["a"])
        worst = max(worst, en, ea)
        assert en < 1e-11 and ea < 1e-11, (N, eps, en, ea)
    print(f"N={N}: max rel err of <n>, <a> = {worst:.2e}")


# ------------------------------------------------------------------------------------------
# jaxent vs reference: jax derivatives

GRAD_N = (10, 20, 30, 40)
GRAD_EPS = (0.6, 0.92, 0.933, 0.94, 0.95, 1.2)


@functools.lru_cache(maxsize=None)
def _jac_fn(n_terms):
    def f(p, N):
        mom = kerr_exact_moments(Kerr(eps=p[0], N=N, kappa=p[1], delta=p[2], u=p[3]),
                                 n_terms=n_terms)
        return jnp.stack([mom.n, jnp.real(mom.a), jnp.imag(mom.a)])

    return jax.jit(jax.jacfwd(f))


def _jax_derivs(eps, N, kappa=0.5, delta=-2.0, u=1.0):
    K = default_n_terms(Kerr(eps=eps, N=N, kappa=kappa, delta=delta, u=u))
    J = np.asarray(_jac_fn(K)(jnp.array([eps, kappa, delta, u]), jnp.float64(N)))
    return {(m, p): J[i, j] for i, m in enumerate(MOMENTS) for j, p in enumerate(DIFF_PARAMS)}


@pytest.mark.parametrize("N", GRAD_N)
def test_exact_moment_gradients_vs_reference(N):
    """jax.jacfwd through kerr_exact_moments == analytic mpmath derivatives (1e-9 rel).

    ``n`` derivatives are compared component-wise; ``<a>`` as the complex derivative
    d<a>/dP (relative to |d<a>/dP|), since Re/Im parts can pass through zero."""
    worst = 0.0
    for eps in GRAD_EPS:
        ref = exact_moment_derivatives_mp(eps, N, params=DIFF_PARAMS)
        jd = _jax_derivs(eps, N)
        for P in DIFF_PARAMS:
            en = _rel(jd[("n", P)], ref[("n", P)])
            da_ref = mp.mpc(ref[("a_re", P)], ref[("a_im", P)])
            ea = _rel(complex(jd[("a_re", P)], jd[("a_im", P)]), da_ref)
            worst = max(worst, en, ea)
            assert en < 1e-9 and ea < 1e-9, (N, eps, P, en, ea)
    print(f"N={N}: max rel err of jax derivatives = {worst:.2e}")


def test_grad_api_matches_jacfwd():
    """The plain ``jax.grad`` form (one parameter, explicit n_terms) gives the same numbers."""
    N, eps = 30, 0.933
    K = default_n_terms(Kerr(eps=eps, N=N))
    g = jax.grad(lambda e: kerr_exact_moments(Kerr(eps=e, N=N), n_terms=K).n)(eps)
    ref = exact_moment_derivatives_mp(eps, N, params=("eps",))[("n", "eps")]
    assert _rel(complex(g), ref) < 1e-9
