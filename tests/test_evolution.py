"""Time evolution (jaxent.lindblad.evolution): against qutip.mesolve, ODE against slow modes,
the entropy identity along trajectories, relaxation to the NESS at the rate of the gap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.lindblad.evolution import check_trajectory, evolve
from jaxent.lindblad.spectrum import liouvillian_spectrum
from jaxent.models.kerr import Kerr, kerr_hamiltonian, kerr_lindbladian, kerr_ness
from jaxent.studies.kerr import kerr_point
from jaxent.studies.quench import quench_nmax, quench_point

qutip = pytest.importorskip("qutip")


def trace_norm(a, b):
    d = np.asarray(a) - np.asarray(b)
    return float(np.abs(np.linalg.eigvalsh(0.5 * (d + d.conj().T))).sum())


def _quench(N, eps_i, eps_f, nmax=None):
    nmax = nmax or quench_nmax(N, [eps_i, eps_f], 0.5, -2.0, 1.0)
    rho0 = kerr_ness(Kerr(eps=eps_i, N=N), nmax).rho
    return nmax, rho0, kerr_lindbladian(Kerr(eps=eps_f, N=N), nmax)


# QuTiP's own integrators need minutes at rtol 1e-11 beyond nmax ~ 40: the same truncated
# Liouvillian on both sides (the comparison does not need the truncation to be converged)
@pytest.mark.parametrize("N, eps_f, nmax", [(1, 1.3, 16), (5, 1.3, 30), (10, 0.933, 40)])
def test_matches_qutip_mesolve(N, eps_f, nmax):
    nmax, rho0, Lf = _quench(N, 0.5, eps_f, nmax)
    ts = np.array([0.0, 0.3, 1.0, 2.5, 6.0])
    traj = jax.jit(lambda L, r: evolve(L, r, ts, rtol=1e-12, atol=1e-14))(Lf, rho0)
    assert bool(traj.success)
    # sparse operators, as QuTiP builds them itself: from a dense H its Liouvillian is dense
    # too (the N = 10 reference took 7-8 s instead of 0.1 s)
    H = qutip.Qobj(np.asarray(kerr_hamiltonian(Kerr(eps=eps_f, N=N), nmax))).to("csr")
    ref = qutip.mesolve(H, qutip.Qobj(np.asarray(rho0)), ts,
                        [np.sqrt(1.0) * qutip.destroy(nmax).to("csr")],
                        options={"method": "dop853", "rtol": 1e-11, "atol": 1e-13,
                                 "nsteps": 10**7})
    dists = [trace_norm(traj.ys[i], ref.states[i].full()) for i in range(len(ts))]
    assert max(dists) < 1e-8, dists
    # the trajectory moved (the comparison is not between two copies of rho0)
    assert trace_norm(traj.ys[-1], rho0) > 1e-2
    assert float(jnp.max(traj.trace_error)) < 1e-12
    assert float(jnp.max(traj.hermiticity_error)) < 1e-12
    assert bool(traj.success)


def test_slow_modes_agree_with_the_ode_where_both_apply():
    N = 5
    nmax, rho0, Lf = _quench(N, 0.5, 0.933)
    ts = jnp.array([0.0, 1.0, 30.0, 45.0, 60.0, 120.0])
    spec = liouvillian_spectrum(Lf, 6, method="arnoldi", condition=False)
    rss = kerr_ness(Kerr(eps=0.933, N=N), nmax).rho
    ode = jax.jit(lambda L, r: evolve(L, r, ts, rtol=1e-12, atol=1e-14))(Lf, rho0)
    fast = jax.jit(lambda L, r, s, q: evolve(L, r, ts, spectrum=s, rho_ss=q, rtol=1e-12,
                                             atol=1e-14))(Lf, rho0, spec, rss)
    t_s = float(fast.t_switch)
    assert 0.0 < t_s < 45.0  # the later save times come from the slow modes
    assert float(fast.slow_residual) < 1e-10
    assert int(fast.num_steps) < int(ode.num_steps) / 2
    for i in range(len(ts)):
        assert trace_norm(ode.ys[i], fast.ys[i]) < 1e-10, float(ts[i])
    # fn on batches of save times (7 = 3 batches of 3, the last time repeated twice to fill
    # them): the same states at the same times as one save time at a time
    ts7 = jnp.concatenate([ts, jnp.array([200.0])])
    fn = (lambda t, rho: (t, rho))
    one, batched = (jax.jit(lambda L, r, s, q, b=b: evolve(
        L, r, ts7, fn, spectrum=s, rho_ss=q, rtol=1e-12, atol=1e-14, save_batch=b))(
            Lf, rho0, spec, rss) for b in (1, 3))
    np.testing.assert_array_equal(np.asarray(batched.ys[0]), np.asarray(ts7))
    assert batched.ys[1].shape == one.ys[1].shape == (7, nmax, nmax)
    for i in range(7):
        assert trace_norm(one.ys[1][i], batched.ys[1][i]) < 1e-13, float(ts7[i])
    assert trace_norm(one.ys[1][6], one.ys[1][5]) > 1e-6  # the last two times differ


def test_a_missing_slow_mode_leaves_the_trajectory_finite():
    """A spectrum with fewer modes than asked (a -inf eigenvalue with a zero mode, what
    liouvillian_spectrum returns when too few Ritz values survive) must not make the slow-mode
    propagation NaN: the missing mode is left out of the fit."""
    import equinox as eqx

    nmax, rho0, Lf = _quench(5, 0.5, 0.933)
    ts = jnp.array([0.0, 1.0, 45.0, 120.0])
    spec = liouvillian_spectrum(Lf, 6, method="arnoldi", condition=False)
    spec = eqx.tree_at(lambda s: (s.eigenvalues, s.modes), spec,
                       (spec.eigenvalues.at[-1].set(-jnp.inf), spec.modes.at[-1].set(0.0)))
    rss = kerr_ness(Kerr(eps=0.933, N=5), nmax).rho
    tr = jax.jit(lambda L, r, s, q: evolve(L, r, ts, spectrum=s, rho_ss=q))(Lf, rho0, spec, rss)
    assert float(tr.t_switch) < 45.0
    assert np.all(np.isfinite(np.asarray(tr.ys))) and np.isfinite(float(tr.slow_residual))
    assert np.max(np.asarray(tr.trace_error)) < 1e-10


def test_entropy_rate_identity_along_trajectories():
    """dS/dt from a 5-point finite difference of S_wehrl(t) equals Pi_U + Pi_J - Phi, and the
    trace stays 1, along quenches into both phases [GFL-quench, Eq. (18)]."""
    h = 0.01
    centres = np.array([0.4, 1.5, 4.0])
    offsets = np.array([-2, -1, 0, 1, 2]) * h
    ts = jnp.asarray((centres[:, None] + offsets[None, :]).ravel())
    for N, eps_f in ((3, 1.1),):  # into the bright phase, non-Gaussian transient
        nmax = quench_nmax(N, [0.5, eps_f], 0.5, -2.0, 1.0)
        out = jax.jit(lambda e: quench_point(Kerr(eps=0.5, N=N), Kerr(eps=e, N=N), nmax, ts,
                                             rtol=1e-12))(eps_f)
        S = np.asarray(out["S_wehrl"]).reshape(len(centres), 5)
        fd = (S[:, 0] - 8 * S[:, 1] + 8 * S[:, 3] - S[:, 4]) / (12 * h)
        mid = slice(2, None, 5)
        rhs = np.asarray(out["Pi_U"] + out["Pi_J"] - out["Phi"])[mid]
        scale = np.asarray(np.abs(out["Pi_U"]) + np.abs(out["Pi_J"]) + np.abs(out["Phi"]))[mid]
        assert np.all(np.abs(fd - rhs) <= 1e-6 * scale), (N, fd, rhs)
        assert np.max(np.abs(fd)) > 1e-3  # S really changes
        assert float(jnp.max(out["trace_error"])) < 1e-12


def test_late_times_reach_the_ness_at_the_rate_of_the_gap():
    N, eps_f = 5, 0.933
    nmax, rho0, Lf = _quench(N, 0.5, eps_f)
    spec = liouvillian_spectrum(Lf, 4, method="arnoldi", condition=False)
    gap = float(spec.gap)
    rss = kerr_ness(Kerr(eps=eps_f, N=N), nmax).rho
    # decay rate of ||rho(t) - rho_ss|| from the ODE alone (no slow modes)
    ts = jnp.array([40.0, 60.0])
    traj = jax.jit(lambda L, r: evolve(L, r, ts, fn=lambda t, rho: jnp.linalg.norm(rho - rss),
                                       rtol=1e-12, atol=1e-14))(Lf, rho0)
    rate = -np.log(float(traj.ys[1]) / float(traj.ys[0])) / 20.0
    assert abs(rate - gap) < 1e-4 * gap, (rate, gap)
    # every term at t = 30 / gap equals the NESS terms at eps_f
    t_end = 30.0 / gap
    out = jax.jit(lambda e: quench_point(Kerr(eps=0.5, N=N), Kerr(eps=e, N=N), nmax,
                                         jnp.array([0.0, 1.0, t_end]), rtol=1e-10))(eps_f)
    ness = kerr_point(Kerr(eps=eps_f, N=N), nmax)
    for k in ("n_photons", "S_wehrl", "Phi", "Phi_q", "Pi_ext", "Pi_J", "Pi_d", "Pi_U"):
        late, ref = float(out[k][-1]), float(ness[k])
        assert abs(late - ref) < 1e-8 * max(abs(ref), 1.0), (k, late, ref)
    assert abs(float(out["dS_dt"][-1])) < 1e-8
    # and t = 0 is the NESS at eps_i
    start = kerr_point(Kerr(eps=0.5, N=N), nmax)
    assert abs(float(out["Phi"][0]) - float(start["Phi"])) < 1e-12


def test_gradient_through_the_evolution():
    """d Phi(t) / d eps_f by the diffrax adjoint against a central difference."""
    N = 1
    nmax, rho0, _ = _quench(N, 0.5, 1.3)
    ts = jnp.array([0.0, 0.7, 1.5])

    def phi(eps_f):
        L = kerr_lindbladian(Kerr(eps=eps_f, N=N), nmax)
        traj = evolve(L, rho0, ts, fn=lambda t, rho: jnp.real(jnp.trace(rho @ jnp.diag(
            jnp.arange(nmax, dtype=jnp.float64)))), rtol=1e-12, atol=1e-14)
        return traj.ys[-1]

    g = float(jax.jit(jax.grad(phi))(1.3))
    h = 1e-4
    fd = (float(phi(1.3 + h)) - float(phi(1.3 - h))) / (2 * h)
    assert abs(g - fd) < 1e-6 * abs(fd) and abs(fd) > 0.1


def test_bad_input():
    nmax, rho0, Lf = _quench(1, 0.5, 0.6)
    with pytest.raises(ValueError, match="^rho0:"):
        evolve(Lf, rho0[:-1], jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="^ts:"):
        evolve(Lf, rho0, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="^spectrum and rho_ss"):
        evolve(Lf, rho0, jnp.array([0.0, 1.0]), spectrum="modes without their steady state")
    with pytest.raises(ValueError, match="^method:"):
        evolve(Lf, rho0, jnp.array([0.0, 1.0]), method="euler")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="^save_batch: must be an integer >= 1"):
            evolve(Lf, rho0, jnp.array([0.0, 1.0]), save_batch=bad)


@pytest.mark.parametrize("ts", [[0.0, 3.0, 1.0], [2.0, 1.0], [-1.0, 0.0, 1.0], [0.0, np.nan]])
def test_save_times_out_of_order_negative_or_nan_are_refused(ts):
    # They were silently wrong: diffrax integrated to ts[-1] after the times were clipped into
    # [0, ts[-1]], so [0, 3, 1] returned rho(1) labelled t = 3 (trace-norm error 0.47)
    nmax, rho0, Lf = _quench(1, 0.5, 1.1, nmax=12)
    with pytest.raises(ValueError, match=r"^ts: save times must be finite, >= 0 and "
                                         r"non-decreasing, got \["):
        evolve(Lf, rho0, jnp.array(ts))
    with pytest.raises(Exception, match="ts: save times must be finite, >= 0 and non-decreasing"):
        jax.block_until_ready(jax.jit(lambda t: evolve(Lf, rho0, t).ys)(jnp.array(ts)))


def test_repeated_save_times_are_allowed():
    nmax, rho0, Lf = _quench(1, 0.5, 1.1, nmax=12)
    traj = evolve(Lf, rho0, jnp.array([0.0, 1.0, 1.0, 2.0]))
    assert bool(traj.success)
    np.testing.assert_array_equal(np.asarray(traj.ys[1]), np.asarray(traj.ys[2]))


def test_check_trajectory_reports_an_exhausted_ode():
    nmax, rho0, Lf = _quench(1, 0.5, 1.3)
    traj = evolve(Lf, rho0, jnp.array([0.0, 50.0]), max_steps=8)
    assert not bool(traj.success)
    with pytest.warns(UserWarning, match="exhausted max_steps"):
        msgs = check_trajectory(traj)
    assert msgs[0].startswith("the ODE exhausted max_steps")


def test_eager_calls_compile_once(xla_compilations):
    """A second eager evolution of the same shapes, from another state under another
    Lindbladian, compiles nothing (before: the ODE solve was traced and compiled again on
    every call, 3.2 s for 5 save times at nmax 40)."""
    ts = jnp.linspace(0.0, 1.0, 3)
    L1, L2 = (kerr_lindbladian(Kerr(eps=e, N=2), 10) for e in (0.6, 1.2))
    rho0 = jnp.zeros((10, 10), jnp.complex128).at[0, 0].set(1.0)
    rho1 = kerr_ness(Kerr(eps=0.6, N=2), 10).rho
    evolve(L1, rho0, ts)
    before = xla_compilations()
    traj = evolve(L2, rho1, ts)
    assert xla_compilations() == before
    ref = jax.jit(lambda L, r: evolve(L, r, ts))(L2, rho1)
    np.testing.assert_allclose(np.asarray(traj.ys), np.asarray(ref.ys), rtol=0, atol=1e-14)
