"""Gaussian entropies against closed forms and QuTiP (Fock space)."""

import jax
import jax.numpy as jnp
import numpy as np
import qutip as qt

from jaxent.gaussian.covariance import thermal_covariance, two_mode_squeezed_thermal_covariance
from jaxent.gaussian.entropies import (
    gaussian_wehrl_entropy,
    mutual_information,
    renyi2_entropy,
    symplectic_eigenvalues,
    von_neumann_entropy,
    wigner_entropy,
    wigner_mutual_information,
)


def _g(N):
    return (N + 1) * np.log(N + 1) - (N * np.log(N) if N > 0 else 0.0)


def test_thermal_closed_forms():
    for N in (0.0, 0.3, 2.5):
        s = thermal_covariance(N)
        np.testing.assert_allclose(symplectic_eigenvalues(s), [N + 0.5], rtol=1e-14)
        np.testing.assert_allclose(von_neumann_entropy(s), _g(N), atol=1e-14)
        # Q of a thermal state is thermal with N+1; W is Gaussian with variance N+1/2 (d^2 alpha)
        np.testing.assert_allclose(gaussian_wehrl_entropy(s), 1 + np.log(np.pi * (N + 1)),
                                   rtol=1e-14)
        np.testing.assert_allclose(wigner_entropy(s), 1 + np.log(np.pi * (N + 0.5)), rtol=1e-14)
        np.testing.assert_allclose(renyi2_entropy(s), np.log(2 * N + 1), atol=1e-14)


def test_symplectic_invariance_and_pure_states():
    # a squeezed, rotated vacuum is pure: nu = 1/2, S = 0, Wehrl of a squeezed vacuum > 1 + ln pi
    r, th = 0.7, 0.4
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    s = R @ np.diag([np.exp(-2 * r), np.exp(2 * r)]) @ R.T / 2
    np.testing.assert_allclose(symplectic_eigenvalues(s), [0.5], rtol=1e-13)
    assert abs(float(von_neumann_entropy(s))) < 1e-12
    np.testing.assert_allclose(gaussian_wehrl_entropy(s), 1 + np.log(np.pi) + np.log(np.cosh(r)),
                               rtol=1e-13)
    tms = two_mode_squeezed_thermal_covariance(0.9, 0.0, 0.0)
    np.testing.assert_allclose(symplectic_eigenvalues(tms), [0.5, 0.5], rtol=1e-12)


def test_wehrl_and_wigner_match_grid_integration():
    s = np.array([[0.9, 0.3], [0.3, 0.7]])
    for cov, ref in ((s + 0.5 * np.eye(2), gaussian_wehrl_entropy(s)), (s, wigner_entropy(s))):
        # integrate -f ln f over mu = (x + ip)/sqrt2, d^2 mu = dx dp / 2
        x = np.linspace(-12, 12, 601)
        X, P = np.meshgrid(x, x, indexing="ij")
        v = np.stack([X, P], -1)
        inv = np.linalg.inv(cov)
        f_r = (np.exp(-0.5 * np.einsum("...i,ij,...j", v, inv, v))
               / (2 * np.pi * np.sqrt(np.linalg.det(cov))))
        f_mu = 2 * f_r
        dA = (x[1] - x[0]) ** 2 / 2
        np.testing.assert_allclose(np.sum(f_mu) * dA, 1.0, rtol=1e-10)
        np.testing.assert_allclose(-np.sum(f_mu * np.log(f_mu)) * dA, ref, rtol=1e-10)


def test_two_mode_squeezed_thermal_against_qutip():
    nf = 24
    r, n1, n2 = 0.3, 0.3, 0.1
    a1 = qt.tensor(qt.destroy(nf), qt.qeye(nf))
    a2 = qt.tensor(qt.qeye(nf), qt.destroy(nf))
    S2 = (r * (a1 * a2 - a1.dag() * a2.dag())).expm()
    rho = S2 * qt.tensor(qt.thermal_dm(nf, n1), qt.thermal_dm(nf, n2)) * S2.dag()
    sigma = two_mode_squeezed_thermal_covariance(r, n1, n2)
    np.testing.assert_allclose(von_neumann_entropy(sigma), qt.entropy_vn(rho), rtol=1e-8)
    np.testing.assert_allclose(mutual_information(sigma, [0], [1]),
                               qt.entropy_mutual(rho, 0, 1), rtol=1e-7)
    np.testing.assert_allclose(von_neumann_entropy(sigma[:2, :2]), qt.entropy_vn(rho.ptrace(0)),
                               rtol=1e-8)
    purity = (rho * rho).tr().real
    np.testing.assert_allclose(renyi2_entropy(sigma), -np.log(purity), rtol=1e-8)
    # Wigner mutual information = Renyi-2 mutual information
    r2 = (renyi2_entropy(sigma[:2, :2]) + renyi2_entropy(sigma[2:, 2:]) - renyi2_entropy(sigma))
    np.testing.assert_allclose(wigner_mutual_information(sigma, [0], [1]), r2, rtol=1e-12)


def test_gradients_finite_at_degenerate_spectra():
    # equal modes -> degenerate symplectic spectrum; gradient must stay finite and correct
    def f(N):
        return von_neumann_entropy(thermal_covariance(jnp.array([N, N, N])))

    g = jax.grad(f)(0.7)
    np.testing.assert_allclose(g, 3 * np.log((0.7 + 1) / 0.7), rtol=1e-10)
    mi = jax.jit(lambda r: mutual_information(two_mode_squeezed_thermal_covariance(r, 0.2, 0.2),
                                              [0], [1]))
    h = jax.grad(mi)(0.3)
    e = 1e-6
    fd = (mi(0.3 + e) - mi(0.3 - e)) / (2 * e)
    np.testing.assert_allclose(h, fd, rtol=1e-6)
    assert np.isfinite(jax.grad(lambda s: gaussian_wehrl_entropy(s * jnp.eye(4)))(0.5))


def test_gradient_is_zero_along_pure_states_whichever_way_the_rounding_falls():
    """Squeezed vacua are pure (nu = 1/2 up to rounding): S = 0 along the family, so dS/dr = 0.
    Rounding puts nu at, below or above 1/2 depending on r (and, found by the tests, on the
    compiler's optimisation level); before the fix 37 of these 41 gradients were NaN."""
    def S(r):
        return von_neumann_entropy(0.5 * jnp.diag(jnp.array([jnp.exp(2 * r), jnp.exp(-2 * r)])))

    rs = np.linspace(0.0, 1.0, 41)
    grads = np.array([float(jax.grad(S)(r)) for r in rs])
    assert np.all(np.isfinite(grads)) and np.max(np.abs(grads)) < 1e-10
    assert np.max(np.abs([float(S(r)) for r in rs])) < 1e-12
    # a mixed state keeps its derivative (thermal, n = 1: dS/dn = ln 2)
    np.testing.assert_allclose(jax.grad(lambda s: von_neumann_entropy(s * jnp.eye(2)))(1.5),
                               np.log(2.0), rtol=1e-12)


def test_vmap():
    Ns = jnp.linspace(0.1, 2.0, 5)
    out = jax.vmap(lambda N: von_neumann_entropy(thermal_covariance(N)))(Ns)
    np.testing.assert_allclose(out, [_g(float(N)) for N in Ns], rtol=1e-12)
