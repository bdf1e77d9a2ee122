"""Coherent-state amplitudes in log space: accuracy against mpmath up to |mu| = 25, n = 250."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import qutip

from jaxent.phase_space.coherent import (
    coherent_amplitudes,
    coherent_modulus,
    coherent_state,
    log_coherent_modulus,
)


@pytest.mark.parametrize("r", [0.3, 5.0, 13.0, 25.0])
def test_log_modulus_matches_mpmath(r):
    # log|<n|mu>| = -r^2/2 + n ln r - ln(n!)/2, evaluated with 50 digits.
    mpmath.mp.dps = 50
    ns = [0, 1, 7, 60, 169, 170, 171, 249]
    got = np.asarray(log_coherent_modulus(r, 250))[ns]
    for n, g in zip(ns, got):
        ref = -mpmath.mpf(r) ** 2 / 2 + n * mpmath.log(mpmath.mpf(r)) - mpmath.loggamma(n + 1) / 2
        # Absolute error in the log = relative error of the amplitude; the terms reach ~1e3.
        assert abs(g - float(ref)) < 5e-13, (n, g, float(ref))


def test_amplitudes_finite_and_poisson_normalised():
    r = jnp.array([0.0, 1e-3, 3.0, 10.0, 13.0, 25.0])
    c = coherent_modulus(r, 250)
    assert bool(jnp.all(jnp.isfinite(c)))
    assert bool(jnp.all((c >= 0) & (c <= 1)))
    # sum_n |<n|mu>|^2 = 1 (Poisson weights, mean r^2, std r) where 250 levels cover the
    # distribution (r <= 10: 250 > 100 + 15 std); at r = 13 the omitted weight is the Poisson
    # tail P(n >= 250 | mean 169), compared with scipy.
    from scipy.stats import poisson
    s = np.sum(np.asarray(c) ** 2, axis=-1)
    np.testing.assert_allclose(s[:4], 1.0, rtol=0, atol=5e-13)
    np.testing.assert_allclose(1 - s[4], poisson.sf(249, 169.0), rtol=0, atol=5e-13)
    # at r = 0 only the vacuum amplitude survives
    np.testing.assert_array_equal(np.asarray(c[0]), np.eye(250)[0])
    # |mu| = 25, the largest amplitude sits at n ~ 625 > 250: tiny but correct, no NaN/overflow
    big = coherent_modulus(25.0, 250)
    assert bool(jnp.all(jnp.isfinite(big))) and float(big[-1]) > 0


def test_coherent_state_matches_qutip_and_phase():
    beta = 1.7 - 0.8j
    ket = np.asarray(coherent_state(beta, 30))
    ref = qutip.coherent(30, beta, method="analytic").full().ravel()
    np.testing.assert_allclose(ket, ref, rtol=0, atol=1e-14)
    # explicit formula e^{-|b|^2/2} b^n / sqrt(n!) at small n
    n = np.arange(5)
    from math import factorial
    direct = np.exp(-abs(beta) ** 2 / 2) * beta**n / np.sqrt([factorial(k) for k in n])
    np.testing.assert_allclose(np.asarray(coherent_amplitudes(beta, 5)), direct, rtol=1e-14)
    norm = float(jnp.linalg.norm(coherent_state(beta, 30, normalize=True)))
    assert abs(norm - 1) < 1e-15


def test_gradient_finite_at_origin():
    f = lambda x: jnp.sum(jnp.abs(coherent_amplitudes(x + 0.0j, 40)) ** 2 * jnp.arange(40))
    g = jax.grad(f)(0.0)
    # <n> of a coherent state is |mu|^2: derivative 2x = 0 at x = 0, and finite
    assert np.isfinite(float(g)) and abs(float(g)) < 1e-12
    np.testing.assert_allclose(float(jax.grad(f)(0.5)), 1.0, rtol=1e-13)  # d/dx x^2


def test_bad_nmax():
    with pytest.raises(ValueError, match="nmax"):
        coherent_state(1.0, 2.5)
    with pytest.raises(ValueError, match="nmax"):
        log_coherent_modulus(1.0, 0)
    # a bool is an int to operator.index (True == 1), never a size
    for flag in (True, np.True_):
        with pytest.raises(ValueError, match="^nmax must be a Python int"):
            coherent_state(1.0, flag)
