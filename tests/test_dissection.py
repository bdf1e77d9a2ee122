"""jaxent.lindblad.dissection and the NestedDissection solver: the plan covers every coherence
once and costs O(n^3); the nested-dissection NESS, solves, adjoint and implicit gradients equal
those of the block-Thomas (BandedElimination) and dense solvers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.fock.operators import create, destroy
from jaxent.lindblad import (
    BandedElimination,
    BandedLindbladian,
    DenseLindbladian,
    DenseSolver,
    ExactMoment,
    NestedDissection,
    steady_state,
)
from jaxent.lindblad.dissection import dissection_plan
from jaxent.models.kerr import Kerr, choose_nmax, kerr_exact_moments, kerr_lindbladian


def _trace_norm(x):
    return float(np.abs(np.linalg.eigvalsh(np.asarray(x))).sum())


def _random_banded(n, seed):
    """Random tridiagonal complex-driven H, loss, gain and dephasing with random level
    dependence: every band NestedDissection supports, no structure a solver could exploit."""
    r = np.random.default_rng(seed)
    a, ad = np.asarray(destroy(n)), np.asarray(create(n))
    H = np.diag(r.normal(size=n)) + np.diag(r.normal(size=n - 1) + 1j * r.normal(size=n - 1), -1)
    H = H + np.diag(np.diag(H, -1).conj(), 1)
    f = lambda: np.diag(r.uniform(0.2, 1.5, size=n))  # noqa: E731
    cs = [f() @ a * 0.8, ad @ f() * 0.3, f() @ ad @ a * 0.2]
    return jnp.asarray(H), [jnp.asarray(c) for c in cs]


@pytest.mark.parametrize("n", [2, 3, 4, 7, 16, 33])
def test_plan_eliminates_every_coherence_once(n):
    """Every node of the triangle d >= 1, d + k <= n - 1 is eliminated by exactly one front; the
    root's ring is the populations in order."""
    for leaf in (1, 4):
        plan = dissection_plan(n, leaf)
        ids = np.concatenate([g.elim[g.rho_ok] for level in plan.levels for g in level])
        assert len(ids) == len(set(ids.tolist())) == n * (n - 1) // 2
        rows = np.concatenate([g.rho_row[g.rho_ok] for level in plan.levels for g in level])
        cols = np.concatenate([g.rho_col[g.rho_ok] for level in plan.levels for g in level])
        assert np.all(rows > cols) and np.all(rows < n)
        (root,) = plan.levels[-1]
        assert np.array_equal(root.ring[0], plan.P**2 + np.arange(n))


def test_plan_work_grows_as_n_cubed():
    """The padded flop count of the plan (what the solver executes) fitted over n = 50..400:
    exponent <= 3.2 (the block-Thomas elimination is ~4)."""
    ns = np.array([50, 100, 200, 400])
    fl = np.array([dissection_plan(int(n), 4).flops() for n in ns])
    slope = np.polyfit(np.log(ns), np.log(fl), 1)[0]
    assert 2.7 < slope <= 3.2, slope


@pytest.mark.parametrize("n,seed", [(2, 0), (3, 1), (7, 2), (12, 3)])
def test_random_banded_ness_equals_block_thomas_and_dense(n, seed):
    H, cs = _random_banded(n, seed)
    L = BandedLindbladian.from_dense(H, cs, offsets=(1, -1, 0))
    nd = steady_state(L, NestedDissection(leaf=2))
    bt = steady_state(L, BandedElimination())
    de = steady_state(DenseLindbladian.from_operators(H, cs), DenseSolver())
    assert _trace_norm(nd.rho - bt.rho) < 1e-12
    assert _trace_norm(nd.rho - de.rho) < 1e-12
    assert float(nd.residual_norm) < 1e-12
    np.testing.assert_allclose(nd.gap_estimate, bt.gap_estimate, rtol=1e-9)


def test_rejects_bands_it_cannot_separate():
    n = 6
    a = destroy(n)
    L = BandedLindbladian.from_dense(jnp.diag(jnp.arange(n) * 1.0), [a @ a], offsets=(2,))
    with pytest.raises(TypeError, match="bands -1, 0, \\+1"):
        NestedDissection().init(L)
    with pytest.raises(TypeError, match="BandedLindbladian"):
        NestedDissection().init(DenseLindbladian.from_operators(jnp.eye(2), [destroy(2)]))


def test_compute_and_transpose_against_the_dense_matrix():
    """compute solves L y = b with tr y = tau; transpose is its Hilbert-Schmidt adjoint."""
    n = 12
    H, cs = _random_banded(n, 7)
    L = BandedLindbladian.from_dense(H, cs, offsets=(1, -1, 0))
    solver = NestedDissection(leaf=3)
    state = solver.init(L)
    x = (jax.random.normal(jax.random.PRNGKey(3), (2, n, n))
         + 1j * jax.random.normal(jax.random.PRNGKey(4), (2, n, n)))
    b = x[0] + x[0].conj().T
    b = b - jnp.trace(b) / n * jnp.eye(n)
    y, _ = solver.compute(state, b, jnp.asarray(0.25))
    assert np.abs(np.asarray(L.mv(y) - b)).max() < 1e-11
    assert abs(complex(jnp.trace(y)) - 0.25) < 1e-12
    yb, _ = BandedElimination().compute(BandedElimination().init(L), b, jnp.asarray(0.25))
    assert np.abs(np.asarray(y - yb)).max() < 1e-11
    g = x[1] + x[1].conj().T
    y0, _ = solver.compute(state, b, jnp.zeros(()))
    lhs = jnp.real(jnp.vdot(g, y0))
    rhs = jnp.real(jnp.vdot(solver.transpose(state, g), b))
    assert abs(lhs - rhs) < 1e-11 * max(1.0, abs(lhs))


@jax.jit
def _kerr_pair(m, weights):
    """NESS of the Kerr model by both solvers, pinned where ill-conditioned."""
    n = weights.shape[0]
    L = kerr_lindbladian(m, n)
    c = ExactMoment(weights=weights, value=kerr_exact_moments(m, 4096).n)
    return (steady_state(L, NestedDissection(), constraint=c),
            steady_state(L, BandedElimination(), constraint=c))


@pytest.mark.parametrize("N", [5.0, 40.0])
def test_kerr_ness_equals_block_thomas_including_pinned_points(N):
    """Kerr NESS at N = 5..40, on both sides of eps_c and at the pinned points near it: the two
    elimination orders agree to 1e-12 in trace norm, pinned where and only where the other is."""
    nmax = choose_nmax(Kerr(eps=1.0, N=N))
    w = jnp.arange(nmax, dtype=jnp.float64)
    for eps in (0.6, 0.933, 0.95, 1.0):
        nd, bt = _kerr_pair(Kerr(eps=eps, N=N), w)
        assert bool(nd.pinned) == bool(bt.pinned), (N, eps)
        # an unpinned state is only determined to error_estimate (float64 conditioning of the
        # slow mode, e.g. 7.8e-13 at N = 5, eps = 0.933): two solves differ by up to twice that
        tol = 1e-12 + (0.0 if bool(bt.pinned) else 2.0 * float(bt.error_estimate))
        assert _trace_norm(nd.rho - bt.rho) < tol, (N, eps, _trace_norm(nd.rho - bt.rho), tol)
        # sigma_2 of the population Schur complement is itself resolved only to
        # ~eps ||M0|| / sigma_2 = error_estimate relative (rounding differs between the orders)
        est = float(bt.error_estimate)
        np.testing.assert_allclose(nd.error_estimate, est, rtol=1e-6 + 2 * est)
    if N >= 20:
        assert bool(nd.pinned) or bool(_kerr_pair(Kerr(eps=0.933, N=N), w)[0].pinned)


def test_implicit_gradients_equal_block_thomas():
    """d<n>, d<a> w.r.t. eps, kappa, delta, u by jacfwd (and d<n> by grad) through both solvers,
    at a pinned point (N = 20, eps = 0.94) and a regular one (eps = 0.6)."""
    nmax = 48

    def moments(p, solver):
        m = Kerr(eps=p[0], kappa=p[1], delta=p[2], u=p[3], N=20.0)
        c = ExactMoment(weights=jnp.arange(nmax, dtype=jnp.float64),
                        value=kerr_exact_moments(m, 4096).n)
        rho = steady_state(kerr_lindbladian(m, nmax), solver, constraint=c).rho
        k = jnp.arange(nmax)
        a = jnp.sum(jnp.sqrt(k[1:]) * jnp.diagonal(rho, -1))
        return jnp.stack([jnp.real(jnp.diagonal(rho)) @ k, jnp.real(a), jnp.imag(a)])

    jac_nd = jax.jit(jax.jacfwd(lambda p: moments(p, NestedDissection())))
    jac_bt = jax.jit(jax.jacfwd(lambda p: moments(p, BandedElimination())))
    grad_nd = jax.jit(jax.grad(lambda p: moments(p, NestedDissection())[0]))
    p0 = jnp.array([0.94, 0.5, -2.0, 1.0])
    for p in (p0, p0.at[0].set(0.6)):
        j_nd, j_bt = jac_nd(p), jac_bt(p)
        scale = float(jnp.abs(j_bt).max())
        np.testing.assert_allclose(j_nd, j_bt, rtol=1e-9, atol=1e-11 * scale)
        np.testing.assert_allclose(grad_nd(p), j_bt[0], rtol=1e-9, atol=1e-11 * scale)
