"""jaxent.lindblad.steady_state: dense, banded and Krylov steady states against QuTiP and each
other, diagnostics, jit/vmap, implicit gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip as qt

from jaxent.fock.liouvillian import apply_liouvillian
from jaxent.fock.operators import create, destroy, number
from jaxent.lindblad import (
    BandedElimination,
    BandedLindbladian,
    ConditioningWarning,
    DenseLindbladian,
    DenseSolver,
    ExactMoment,
    KrylovSolver,
    check_steady_state,
    steady_state,
)
from jaxent.lindblad.solvers import bucket_bounds
from jaxent.models.kerr import (
    Kerr,
    kerr_exact_moments,
    kerr_hamiltonian,
    kerr_jump_ops,
    kerr_lindbladian,
)


def steady_state_dense(H, c_ops, diagnose=True):
    return steady_state(DenseLindbladian.from_operators(H, c_ops), DenseSolver(diagnose=diagnose))


def steady_state_banded(H, c_ops, n_buckets=4):
    return steady_state(BandedLindbladian.from_dense(H, c_ops), BandedElimination(n_buckets))


def solve_banded(L, n_buckets=4):
    return steady_state(L, BandedElimination(n_buckets))


def _kerr_qutip(N, eps, nmax, kappa=0.5, delta=-2.0, u=1.0):
    a = qt.destroy(nmax)
    H = (delta * a.dag() * a + u / (2 * N) * a.dag() ** 2 * a**2
         + 1j * eps * np.sqrt(N) * (a.dag() - a))
    return H, [np.sqrt(2 * kappa) * a]


def _moments(rho):
    n = rho.shape[0]
    k = np.arange(n)
    return np.sqrt(k[1:]) @ np.diag(rho, -1), np.real(np.diag(rho)) @ k


@pytest.mark.parametrize("N,eps,nmax", [(5.0, 0.9, 24), (10.0, 0.7, 24)])
def test_dense_matches_qutip(N, eps, nmax):
    m = Kerr(eps=eps, N=N)
    ss = steady_state_dense(kerr_hamiltonian(m, nmax), kerr_jump_ops(m, nmax))
    Hq, cq = _kerr_qutip(N, eps, nmax)
    rq = qt.steadystate(Hq, cq).full()
    rho = np.asarray(ss.rho)
    assert np.abs(rho - rq).max() < 1e-8
    a, n = _moments(rho)
    aq, nq = _moments(rq)
    assert abs(a - aq) < 1e-8 * max(1, abs(aq)) and abs(n - nq) < 1e-8 * max(1, nq)
    assert np.allclose(rho, rho.conj().T) and abs(np.trace(rho) - 1) < 1e-13
    assert ss.residual_norm < 1e-10 and ss.trace_error < 1e-10
    assert bool(ss.resolvable) and ss.gap_estimate > 1e-3


def test_banded_matches_dense_kerr():
    for N, eps, nmax, nbs in [(5.0, 0.94, 30, (1, 4))]:
        m = Kerr(eps=eps, N=N)
        H, cs = kerr_hamiltonian(m, nmax), kerr_jump_ops(m, nmax)
        sd = steady_state_dense(H, cs, diagnose=False)
        for nb in nbs:
            sb = solve_banded(kerr_lindbladian(m, nmax), n_buckets=nb)
            assert np.abs(np.asarray(sb.rho - sd.rho)).max() < 1e-11
            assert sb.residual_norm < 1e-11
        # the dense-input wrapper finds the band offsets itself
        sw = steady_state_banded(H, cs)
        assert np.abs(np.asarray(sw.rho - sd.rho)).max() < 1e-11


def test_banded_general_jumps_against_qutip():
    """Gain, dephasing and an arbitrary diagonal H: still block-tridiagonal over d = m - n."""
    n = 16
    a, ad = destroy(n), create(n)
    H = 0.3 * number(n) - 0.07 * ad @ ad @ a @ a + 0.4 * (ad + a) + 0.2j * (ad - a)
    cs = [np.sqrt(1.1) * a, np.sqrt(0.3) * ad, np.sqrt(0.2) * ad @ a]
    sb = steady_state_banded(H, cs)
    rq = qt.steadystate(qt.Qobj(np.asarray(H)), [qt.Qobj(np.asarray(c)) for c in cs]).full()
    assert np.abs(np.asarray(sb.rho) - rq).max() < 1e-10
    assert np.abs(np.asarray(apply_liouvillian(H, cs, sb.rho))).max() < 1e-12


def test_bucket_bounds_cover_all_diagonals():
    for nmax, B in [(2, 4), (10, 1), (10, 3), (161, 4), (50, 50)]:
        b = bucket_bounds(nmax, B)
        ds = [d for lo, hi in b for d in range(lo, hi + 1)]
        assert ds == list(range(1, nmax)) and len(b) <= B


def test_banded_rejects_wrong_structure():
    n = 6
    a = destroy(n)
    with pytest.raises(ValueError, match="tridiagonal"):
        steady_state_banded(a @ a + (a @ a).conj().T, [a])
    with pytest.raises(ValueError, match=r"c_ops\[0\]"):
        steady_state_banded(number(n), [a + a.conj().T])
    with pytest.raises(ValueError, match="c_ops"):
        steady_state_banded(number(n), [destroy(n + 1)])


def test_vmap_jit_and_grad_dense_and_banded():
    n = 12

    @jax.jit
    def dense_n(eps):
        m = Kerr(eps=eps, N=3.0)
        rho = steady_state_dense(kerr_hamiltonian(m, n), kerr_jump_ops(m, n), diagnose=False).rho
        return jnp.real(jnp.sum(jnp.arange(n) * jnp.diagonal(rho)))

    @jax.jit
    def banded_n(eps):
        rho = solve_banded(kerr_lindbladian(Kerr(eps=eps, N=3.0), n)).rho
        return jnp.real(jnp.sum(jnp.arange(n) * jnp.diagonal(rho)))

    eps = jnp.array([0.5, 0.8, 1.1])
    vd, vb = jax.vmap(dense_n)(eps), jax.jit(jax.vmap(banded_n))(eps)
    assert np.allclose(vd, vb, rtol=1e-12)
    e0, h = 0.8, 1e-5
    fd = (dense_n(e0 + h) - dense_n(e0 - h)) / (2 * h)
    assert np.isclose(jax.grad(dense_n)(e0), fd, rtol=1e-7)
    assert np.isclose(jax.grad(banded_n)(e0), fd, rtol=1e-7)


def test_unresolvable_state_is_flagged():
    """Near eps_c at N = 20 the gap is ~3e-7: a plain float64 solve is not trustworthy to 1e-8,
    and the diagnostics must say so (gap estimate within a factor 2 of the measured 2.7e-7)."""
    m = Kerr(eps=0.94, N=20.0)
    ss = solve_banded(kerr_lindbladian(m, 96))
    assert 1e-7 < float(ss.gap_estimate) < 1e-6
    assert not bool(ss.resolvable)
    with pytest.warns(ConditioningWarning, match="gap"):
        assert not check_steady_state(ss)
    with pytest.raises(ValueError, match="resolvable"):
        check_steady_state(ss, conditioning="raise")
    # the plain solution is still within its own error estimate (pinning: see test_kerr.py)
    mom = kerr_exact_moments(m)
    a = np.sqrt(np.arange(1, 96)) @ np.diag(np.asarray(ss.rho), -1)
    assert abs(a - complex(mom.a)) / abs(complex(mom.a)) < 100 * float(ss.error_estimate)
    far = solve_banded(kerr_lindbladian(Kerr(eps=0.5, N=20.0), 96))
    assert bool(far.resolvable) and check_steady_state(far)


def test_krylov_matches_dense():
    n = 14
    m = Kerr(eps=0.8, N=4.0)
    L = DenseLindbladian.from_operators(kerr_hamiltonian(m, n), kerr_jump_ops(m, n))
    sd, sk = steady_state(L), steady_state(L, KrylovSolver())
    assert np.abs(np.asarray(sd.rho - sk.rho)).max() < 1e-10
    assert float(sk.residual_norm) < 1e-10
    with pytest.raises(ValueError, match="KrylovSolver"):
        steady_state(L, KrylovSolver(), constraint=ExactMoment(jnp.arange(n) * 1.0, 1.0))
    # a stiff case (decay rates up to 30, Kerr energies up to 400) where unpreconditioned GMRES
    # stagnates at an O(1) error: the diagonal preconditioner makes it converge
    a = destroy(30)
    H = -2.0 * a.T @ a + 0.5 * (a.T @ a.T @ a @ a) + 1.0j * (a.T - a)
    Lb = BandedLindbladian.from_dense(H, [a])
    sk = steady_state(Lb, KrylovSolver())
    assert np.abs(np.asarray(sk.rho - steady_state(Lb).rho)).max() < 1e-10
    assert float(sk.residual_norm) < 1e-12
    # no conditioning information from a Krylov solve: said, not guessed
    assert np.isnan(float(sk.error_estimate)) and not bool(sk.resolvable)
    with pytest.warns(ConditioningWarning, match="unknown"):
        assert not check_steady_state(sk)


def _generic_model(theta, n=10):
    """A driven mode with loss, gain, dephasing and a Kerr term: every band the banded solver
    supports, every entry depending on the parameters ``theta``."""
    w, g, kl, kg, kd = theta
    a, ad = destroy(n), create(n)
    H = w * number(n) + 0.1 * ad @ ad @ a @ a + g * (ad + a) + 0.2j * g * (ad - a)
    cs = [jnp.sqrt(kl) * a, jnp.sqrt(kg) * ad, jnp.sqrt(kd) * ad @ a]
    return H, cs


@pytest.mark.parametrize("kind", ["dense", "banded"])
def test_implicit_gradients_match_finite_differences(kind):
    """d<observable>/dtheta by implicit differentiation (forward and reverse mode) against a
    4th-order central difference of the same solver, for every parameter."""
    theta0 = jnp.array([0.3, 0.5, 1.1, 0.3, 0.2])
    n = 10
    obs = jnp.diag(jnp.arange(n) ** 1.5) + 0.3 * (destroy(n) + create(n))

    @jax.jit
    def f(theta):
        H, cs = _generic_model(theta, n)
        L = (DenseLindbladian.from_operators(H, cs) if kind == "dense"
             else BandedLindbladian.from_dense(H, cs, offsets=(1, -1, 0)))
        rho = steady_state(L).rho
        return jnp.real(jnp.trace(obs @ rho))

    gf = jax.jacfwd(f)(theta0)
    gr = jax.jit(jax.grad(f))(theta0)
    h = 1e-3
    for i in range(5):
        e = jnp.zeros(5).at[i].set(h)
        fd = ((-f(theta0 + 2 * e) + 8 * f(theta0 + e) - 8 * f(theta0 - e) + f(theta0 - 2 * e))
              / (12 * h))
        # stencil error O(h^4 f^(5)) ~ 1e-12 relative here; rounding ~ 1e-13 / h
        assert abs(gf[i] - fd) < 1e-8 * max(1.0, abs(fd)), (i, gf[i], fd)
    np.testing.assert_allclose(gr, gf, rtol=1e-11, atol=1e-13)


def test_solver_compute_and_transpose_against_the_dense_matrix():
    """BandedElimination.compute solves L y = b with tr y = tau; transpose is its adjoint:
    Re tr(g^dag compute(b)) = Re tr(transpose(g)^dag b) for Hermitian trace-zero b."""
    n = 12
    H, cs = _generic_model(jnp.array([0.3, 0.5, 1.1, 0.3, 0.2]), n)
    L = BandedLindbladian.from_dense(H, cs)
    solver = BandedElimination(n_buckets=3)
    state = solver.init(L)
    key = jax.random.PRNGKey(3)
    x = jax.random.normal(key, (2, n, n)) + 1j * jax.random.normal(jax.random.PRNGKey(4), (2, n, n))
    b = x[0] + x[0].conj().T
    b = b - jnp.trace(b) / n * jnp.eye(n)
    y, _ = solver.compute(state, b, jnp.asarray(0.25))
    assert np.abs(np.asarray(L.mv(y) - b)).max() < 1e-11
    assert abs(complex(jnp.trace(y)) - 0.25) < 1e-12
    ydense = np.linalg.lstsq(np.vstack([np.asarray(L.as_matrix()),
                                        np.eye(n).T.reshape(1, -1)]),
                             np.concatenate([np.asarray(b).T.reshape(-1), [0.25]]), rcond=None)[0]
    assert np.abs(ydense.reshape(n, n).T - np.asarray(y)).max() < 1e-10
    g = x[1] + x[1].conj().T
    y0, _ = solver.compute(state, b, jnp.zeros(()))
    lhs = jnp.real(jnp.vdot(g, y0))
    rhs = jnp.real(jnp.vdot(solver.transpose(state, g), b))
    assert abs(lhs - rhs) < 1e-11 * max(1.0, abs(lhs))
