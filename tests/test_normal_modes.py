"""Williamson normal modes, Bogoliubov coefficients and Gibbs covariances."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import fock_pp_gibbs

from jaxent.gaussian.covariance import symplectic_form
from jaxent.gaussian.normal_modes import (
    bose_occupation,
    gibbs_covariance,
    ladder_coefficients,
    williamson,
)
from jaxent.models.oscillators import kl_normal_frequencies, oscillator_hamiltonian


def _random_positive_G(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2 * n, 2 * n))
    return X @ X.T + 0.5 * np.eye(2 * n)


@pytest.mark.parametrize("n,seed", [(1, 0), (3, 1), (4, 2)])
def test_williamson_random(n, seed):
    G = _random_positive_G(n, seed)
    omega, S = williamson(G)
    om = symplectic_form(n)
    np.testing.assert_allclose(S @ om @ S.T, om, atol=1e-11)
    np.testing.assert_allclose(S.T @ np.diag(np.repeat(omega, 2)) @ S, G, atol=1e-10)
    # independent check: the frequencies are |eig(Omega G)|
    ref = np.sort(np.abs(np.linalg.eigvals(np.asarray(om) @ G).imag))[::2]
    np.testing.assert_allclose(omega, ref, rtol=1e-10)


@pytest.mark.parametrize("coupling", ["pp", "rw"])
@pytest.mark.parametrize("r", [0.1, 0.5, 0.99])
def test_kl_frequencies(coupling, r):
    lc = np.sqrt(10.0) / (2 if coupling == "pp" else 1)
    G = oscillator_hamiltonian(5.0, 2.0, r * lc, coupling)
    omega, S = williamson(G)
    np.testing.assert_allclose(omega, kl_normal_frequencies(5.0, 2.0, r * lc, coupling), rtol=1e-10)
    U, V = ladder_coefficients(S)
    np.testing.assert_allclose(U @ U.conj().T - V @ V.conj().T, np.eye(2), atol=1e-10)
    if coupling == "rw":
        np.testing.assert_allclose(V, 0, atol=1e-12)


@pytest.mark.parametrize("coupling", ["pp", "rw"])
def test_not_bounded_below_raises(coupling):
    lc = np.sqrt(10.0) / (2 if coupling == "pp" else 1)
    for r in (1.0, 1.3):
        with pytest.raises(ValueError, match="not bounded below"):
            williamson(oscillator_hamiltonian(5.0, 2.0, r * lc, coupling))


def test_gibbs_against_fock_space():
    """Gibbs covariance vs exp(-H/T)/Z in a truncated Fock space (QuTiP)."""
    qutip = pytest.importorskip("qutip")
    w1, w2, lam, T = 1.3, 0.9, 0.3, 0.6
    a1, a2, rho = fock_pp_gibbs(w1, w2, lam, T, nmax=28)
    n1 = qutip.expect(a1.dag() * a1, rho)
    x1x2 = qutip.expect((a1 + a1.dag()) * (a2 + a2.dag()), rho) / 2
    sigma = gibbs_covariance(oscillator_hamiltonian(w1, w2, lam, "pp"), T)
    np.testing.assert_allclose(0.5 * (sigma[0, 0] + sigma[1, 1] - 1), n1, rtol=1e-8)
    np.testing.assert_allclose(sigma[0, 2], x1x2, rtol=1e-8)


def test_gibbs_errors_and_grad():
    G = oscillator_hamiltonian(5.0, 2.0, 0.5, "pp")
    for T in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="T"):
            gibbs_covariance(G, T)
    # d<x1^2>/dT by autodiff vs finite differences
    f = lambda T: gibbs_covariance(G, T)[0, 0]
    g = jax.grad(f)(2.0)
    fd = (f(2.0 + 1e-5) - f(2.0 - 1e-5)) / 2e-5
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    np.testing.assert_allclose(bose_occupation(2.0, 1.0), 1 / (np.e**2 - 1))
    _ = jnp
