"""Lyapunov steady states and covariance evolution against scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

from jaxent.gaussian.covariance import drift_diffusion
from jaxent.gaussian.lyapunov import (
    evolve_covariance,
    lyapunov_solve,
    lyapunov_steady_state,
)


def _random_problem(n_modes, seed, kappa_min=0.05):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2 * n_modes, 2 * n_modes))
    # positive-definite G (squeezing terms and couplings included) plus damping: Hurwitz
    G = X @ X.T / (2 * n_modes) + 0.3 * np.eye(2 * n_modes)
    kappa = rng.uniform(kappa_min, 0.5, n_modes)
    nbar = rng.uniform(0.0, 1.0, n_modes)
    A, D = drift_diffusion(G, kappa, nbar)
    return np.asarray(A), np.asarray(D)


def _stable_problem(n_modes, seed):
    for s in range(seed, seed + 100):
        A, D = _random_problem(n_modes, s)
        if np.max(np.linalg.eigvals(A).real) < -1e-3:
            return A, D
    raise RuntimeError("no stable problem found")


@pytest.mark.parametrize("method,n_modes", [("kron", 1), ("kron", 3), ("eig", 1), ("eig", 3),
                                            ("eig", 12), ("sign", 1), ("sign", 3), ("sign", 12)])
def test_matches_scipy(method, n_modes):
    A, D = _stable_problem(n_modes, 10 * n_modes)
    ref = scipy.linalg.solve_continuous_lyapunov(A, -D)
    sigma = lyapunov_steady_state(A, D, method=method)
    np.testing.assert_allclose(sigma, ref, rtol=1e-9, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["kron", "eig", "sign"])
def test_grad_matches_finite_differences(method):
    A0, D0 = _stable_problem(2, 3)
    dA = np.random.default_rng(1).normal(size=A0.shape)
    W = np.random.default_rng(2).normal(size=A0.shape)

    def f(t):
        return jnp.sum(W * lyapunov_steady_state(A0 + t * dA, D0 * (1 + t), method=method))

    g = jax.grad(f)(0.0)
    h = 1e-6
    fd = (f(h) - f(-h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    # forward mode agrees with reverse mode
    np.testing.assert_allclose(jax.jacfwd(f)(0.0), g, rtol=1e-10)


def test_vmap_and_jit():
    As, Ds = zip(*[_stable_problem(2, s) for s in (1, 50, 90)])
    As, Ds = jnp.stack(As), jnp.stack(Ds)
    out = jax.jit(jax.vmap(lyapunov_steady_state))(As, Ds)
    for k in range(3):
        np.testing.assert_allclose(out[k], scipy.linalg.solve_continuous_lyapunov(As[k], -Ds[k]),
                                   rtol=1e-10, atol=1e-12)


def test_unstable_drift_raises_eagerly_and_nans_under_jit():
    A, D = drift_diffusion(jnp.diag(jnp.array([1.0, -1.0])), 0.1, 0.0)  # parametric amplifier
    with pytest.raises(ValueError, match="not Hurwitz"):
        lyapunov_steady_state(A, D)
    sol = jax.jit(lyapunov_solve)(A, D)
    assert not bool(sol.stable) and float(sol.max_re_eig) > 0
    assert np.all(np.isnan(sol.sigma))
    assert np.all(np.isnan(jax.jit(lyapunov_steady_state)(A, D)))
    # undamped oscillator: marginal (Re eig = 0) counts as unstable
    A0, D0 = drift_diffusion(jnp.eye(2), 0.0, 0.0)
    with pytest.raises(ValueError, match="not Hurwitz"):
        lyapunov_steady_state(A0, D0)
    with pytest.raises(ValueError, match="not Hurwitz"):
        lyapunov_steady_state(A, D, method="sign")


def test_evolve_covariance_matches_ode_and_relaxes():
    A, D = _stable_problem(2, 7)
    s0 = np.diag([0.5, 2.0, 0.7, 0.5])
    t = 1.7

    def rhs(_, y):
        s = y.reshape(4, 4)
        return (A @ s + s @ A.T + D).reshape(-1)

    ref = scipy.integrate.solve_ivp(rhs, (0, t), s0.reshape(-1), rtol=1e-12, atol=1e-13).y[:, -1]
    np.testing.assert_allclose(evolve_covariance(A, D, s0, t), ref.reshape(4, 4), atol=1e-9)
    late = evolve_covariance(A, D, s0, 400.0)
    np.testing.assert_allclose(late, lyapunov_steady_state(A, D), atol=1e-9)
    # works for an unstable drift too (finite time)
    Au, Du = drift_diffusion(jnp.diag(jnp.array([1.0, -1.0])), 0.1, 0.0)
    refu = scipy.integrate.solve_ivp(
        lambda _, y: (Au @ y.reshape(2, 2) + y.reshape(2, 2) @ Au.T + Du).reshape(-1),
        (0, 2.0), (0.5 * np.eye(2)).reshape(-1), rtol=1e-12, atol=1e-13).y[:, -1]
    np.testing.assert_allclose(evolve_covariance(Au, Du, 0.5 * jnp.eye(2), 2.0),
                               refu.reshape(2, 2), rtol=1e-9)


def test_sign_function_stability_test_agrees_with_eigenvalues():
    from jaxent.gaussian.lyapunov import hurwitz_check

    cases = [_stable_problem(2, 4)[0], _stable_problem(3, 8)[0],
             np.asarray(drift_diffusion(jnp.diag(jnp.array([1.0, -1.0])), 0.1, 0.0)[0]),
             np.asarray(drift_diffusion(jnp.eye(2), 0.0, 0.0)[0]),  # marginal
             np.diag([-1.0, -2.0, 1e-3, -1.0])]
    for A in cases:
        s_eig, _ = hurwitz_check(A, "eig")
        s_sign, _ = hurwitz_check(A, "sign")
        assert bool(s_eig) == bool(s_sign)
    A, D = _stable_problem(2, 4)
    np.testing.assert_allclose(lyapunov_steady_state(A, D, stability="sign"),
                               scipy.linalg.solve_continuous_lyapunov(A, -D), rtol=1e-10)
    Au, Du = drift_diffusion(jnp.diag(jnp.array([1.0, -1.0])), 0.1, 0.0)
    solve = jax.jit(lambda a, d: lyapunov_steady_state(a, d, stability="sign"))
    assert np.all(np.isnan(solve(Au, Du)))
