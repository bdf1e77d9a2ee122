"""QuTiP interop (jaxent.interop): Qobj in at every operator/state argument, to_qutip out.

The must-show: Kerr ``H`` and ``sqrt(2 kappa) a`` as Qobjs -> jaxent steady state ->
``to_qutip`` equals ``qutip.steadystate(H, c_ops)`` in trace norm."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.entropy.gaussianity import non_gaussianity
from jaxent.entropy.wehrl import photon_loss_terms
from jaxent.fock.liouvillian import apply_liouvillian, liouvillian
from jaxent.interop import as_operator, from_qutip, to_qutip
from jaxent.lindblad import (
    BandedLindbladian,
    DenseLindbladian,
    evolve,
    liouvillian_spectrum,
    steady_state,
)
from jaxent.phase_space.grid import polar_grid
from jaxent.phase_space.husimi import husimi_points
from jaxent.tolerances import TAIL_TOL

qutip = pytest.importorskip("qutip")

KAPPA, DELTA, U = 0.5, -2.0, 1.0


def kerr_qobjs(N, eps, nmax):
    """Kerr H [GFL20, Eq. (11)] and the loss operator, built with QuTiP only."""
    a = qutip.destroy(nmax)
    H = (DELTA * a.dag() * a + 0.5 * (U / N) * a.dag() ** 2 * a**2
         + 1j * eps * np.sqrt(N) * (a.dag() - a))
    return H, [np.sqrt(2 * KAPPA) * a]


def random_oper(rng, dims):
    n = int(np.prod(dims))
    return qutip.Qobj(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)), dims=[dims, dims])


def random_dm(rng, n):
    """A full-rank density matrix with complex, non-symmetric entries (a transpose shows)."""
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    rho = A @ A.conj().T
    return rho / np.trace(rho).real


# ---------------------------------------------------------------------------------------------
# conversions


def test_importing_jaxent_does_not_import_qutip(python_c):
    python_c("import sys, jaxent, jaxent.interop; assert 'qutip' not in sys.modules")


def test_to_qutip_without_qutip_says_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "qutip", None)  # `import qutip` now raises ImportError
    with pytest.raises(ImportError, match="pip install qutip"):
        to_qutip(jnp.eye(2))


def test_round_trips():
    rng = np.random.default_rng(0)
    op = random_oper(rng, [4])
    ket = qutip.rand_ket(5, seed=1)
    for q in (op, ket, ket.dag()):
        x = from_qutip(q)
        assert x.dtype == jnp.complex128
        back = to_qutip(x)
        assert back.dims == q.dims and back.type == q.type
        assert np.array_equal(back.full(), q.full())
    assert from_qutip(ket).shape == (5,) and from_qutip(ket.dag()).shape == (1, 5)
    assert np.array_equal(np.asarray(from_qutip(ket)), ket.full()[:, 0])
    # array -> Qobj -> array: entries, not a transpose or conjugate
    arr = jnp.asarray(random_dm(rng, 3))
    q = to_qutip(arr)
    assert q.dims == [[3], [3]] and q.type == "oper"
    assert np.array_equal(q.full(), np.asarray(arr))
    assert np.array_equal(np.asarray(from_qutip(q)), np.asarray(arr))
    # a tensor-product space: the full matrix in QuTiP's (kron) order, dims given back
    a, b = random_oper(rng, [2]), random_oper(rng, [3])
    ab = qutip.tensor(a, b)
    full = from_qutip(ab)
    assert np.allclose(np.asarray(full), np.kron(a.full(), b.full()), rtol=0, atol=1e-14)
    assert to_qutip(full, dims=[[2, 3], [2, 3]]) == ab
    # a stack: one Qobj per entry
    stack = to_qutip(jnp.stack([arr, 2 * arr]))
    assert isinstance(stack, list) and len(stack) == 2
    assert np.array_equal(stack[1].full(), 2 * np.asarray(arr))


def test_superoperator_round_trip_and_liouvillian_matches_qutip():
    rng = np.random.default_rng(2)
    H = random_oper(rng, [4])
    H = 0.5 * (H + H.dag())
    c_ops = [random_oper(rng, [4]), random_oper(rng, [4])]
    ref = qutip.liouvillian(H, c_ops)
    ours = liouvillian(H, c_ops)  # Qobjs straight in
    assert np.max(np.abs(np.asarray(ours) - ref.full())) < 1e-12
    # the same through the Lindbladian operator and to_qutip: QuTiP's super, same dims
    Lq = to_qutip(DenseLindbladian.from_operators(H, c_ops))
    assert Lq.type == "super" and Lq.dims == ref.dims and Lq.superrep == ref.superrep
    assert np.max(np.abs(Lq.full() - ref.full())) < 1e-12
    assert to_qutip(from_qutip(ref), dims=ref.dims) == ref
    # one Qobj (not a list) is one jump operator
    assert np.max(np.abs(np.asarray(liouvillian(H, c_ops[0]))
                         - qutip.liouvillian(H, [c_ops[0]]).full())) < 1e-12
    # the single-mode structure from Qobjs: the same bands
    Hk, ck = kerr_qobjs(3, 1.0, 5)
    B = BandedLindbladian.from_dense(Hk, ck)
    assert B.jump_offsets == (1,)
    assert np.max(np.abs(np.asarray(B.as_matrix()) - qutip.liouvillian(Hk, ck).full())) < 1e-12
    # matrix-free action on a Qobj state
    rho = qutip.Qobj(random_dm(rng, 4))
    Lrho = apply_liouvillian(H, c_ops, rho)
    ref_rho = qutip.vector_to_operator(ref * qutip.operator_to_vector(rho))
    assert np.max(np.abs(np.asarray(Lrho) - ref_rho.full())) < 1e-12


def test_two_mode_liouvillian_matches_qutip():
    """Tensor-product Qobjs: the full matrices, in the same order as QuTiP's."""
    a = qutip.tensor(qutip.destroy(2), qutip.qeye(3))
    b = qutip.tensor(qutip.qeye(2), qutip.destroy(3))
    H = a.dag() * a + 0.7 * b.dag() * b + 0.3 * (a.dag() * b + b.dag() * a) + 0.2 * (b + b.dag())
    c_ops = [0.5 * a, 0.8 * b]
    ref = qutip.liouvillian(H, c_ops)
    assert np.max(np.abs(np.asarray(liouvillian(H, c_ops)) - ref.full())) < 1e-12
    ss = steady_state(DenseLindbladian.from_operators(H, c_ops))
    rho = to_qutip(ss, dims=H.dims)
    assert rho.dims == [[2, 3], [2, 3]]
    assert (rho - qutip.steadystate(H, c_ops)).norm("tr") < 1e-10


# ---------------------------------------------------------------------------------------------
# the must-show: Qobj -> jaxent NESS -> Qobj equals qutip.steadystate


# one nmax for both N: the dense solver compiles once
@pytest.mark.parametrize("N, eps, nmax", [(1, 1.0, 24), (3, 1.0, 24)])
def test_ness_matches_qutip_steadystate(N, eps, nmax):
    H, c_ops = kerr_qobjs(N, eps, nmax)
    ref = qutip.steadystate(H, c_ops)
    ss = steady_state(DenseLindbladian.from_operators(H, c_ops))
    rho = to_qutip(ss)
    assert rho.dims == [[nmax], [nmax]] and rho.type == "oper"
    assert (rho - ref).norm("tr") < 1e-10, (rho - ref).norm("tr")
    assert float(ss.tail_population) < TAIL_TOL  # a converged truncation, not a toy state
    # not a trivial state: photons and a coherent amplitude
    assert qutip.expect(qutip.num(nmax), ref) > 0.1
    assert abs(qutip.expect(qutip.destroy(nmax), ref)) > 0.1


# ---------------------------------------------------------------------------------------------
# Qobj arguments equal array arguments


def test_single_mode_functions_take_qobj_states():
    nmax = 8
    H, c_ops = kerr_qobjs(1, 1.0, nmax)
    rho = qutip.steadystate(H, c_ops)
    arr = from_qutip(rho)
    grid = polar_grid(nmax)
    t_q = photon_loss_terms(rho, H, KAPPA, grid)
    t_a = photon_loss_terms(arr, from_qutip(H), KAPPA, grid)
    for name in ("S_wehrl", "Phi", "Pi_J", "Pi_d", "Pi_U", "dS_dt", "alpha"):
        assert np.array_equal(np.asarray(getattr(t_q, name)), np.asarray(getattr(t_a, name)))
    assert abs(float(t_q.Phi) - 2 * KAPPA * qutip.expect(qutip.num(nmax), rho)) < 1e-10
    xvec = np.linspace(-2, 2, 5)
    mu = xvec[:, None] + 1j * xvec[None, :]
    Q = np.asarray(husimi_points(rho, mu))
    assert np.allclose(Q, qutip.qfunc(rho, xvec, xvec, g=2).T, rtol=0, atol=1e-12)
    assert float(non_gaussianity(rho)) == float(non_gaussianity(arr))


def test_evolve_takes_qobj_rho0_and_matches_mesolve():
    nmax = 6
    H, c_ops = kerr_qobjs(1, 0.8, nmax)
    rho0 = qutip.ket2dm(qutip.coherent(nmax, 0.6 + 0.4j))
    L = DenseLindbladian.from_operators(H, c_ops)
    ts = np.array([0.0, 0.5, 2.0])
    # mesolve from the same Qobj is the check (a transposed rho0 would evolve to the complex
    # conjugate and miss it); a second run with the array would cost a second compile
    traj = evolve(L, rho0, ts, rtol=1e-10, atol=1e-12)
    states = to_qutip(traj.ys)
    assert all(s.dims == [[nmax], [nmax]] for s in states)
    ref = qutip.mesolve(H, rho0, ts, c_ops, options={"rtol": 1e-10, "atol": 1e-12}).states
    assert max((s - r).norm("tr") for s, r in zip(states, ref)) < 1e-7
    assert (states[-1] - rho0).norm("tr") > 0.1  # it moved


# ---------------------------------------------------------------------------------------------
# errors


def test_wrong_kind_of_qobj_is_refused_with_the_fix():
    nmax = 4
    H, c_ops = kerr_qobjs(1, 1.0, nmax)
    psi = qutip.basis(nmax, 1)
    L = DenseLindbladian.from_operators(H, c_ops)
    with pytest.raises(ValueError, match=r"rho0: got a QuTiP ket .*ket2dm"):
        evolve(L, psi, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"rho: got a QuTiP ket .*ket2dm"):
        non_gaussianity(psi)
    with pytest.raises(ValueError, match=r"rho: got a QuTiP bra"):
        photon_loss_terms(psi.dag(), H, KAPPA, polar_grid(nmax))
    with pytest.raises(ValueError, match=r"c_ops\[0\]: got a QuTiP ket"):
        liouvillian(H, [psi])
    sup = qutip.liouvillian(H, c_ops)
    with pytest.raises(ValueError, match=r"H: got a QuTiP Qobj of type 'super'.*from_operators"):
        liouvillian(sup, c_ops)
    with pytest.raises(TypeError, match=r"L: got a QuTiP Qobj .*from_operators"):
        steady_state(sup)
    with pytest.raises(TypeError, match=r"L: got a QuTiP Qobj"):
        evolve(sup, H, [0.0, 1.0])
    with pytest.raises(TypeError, match=r"L: got a QuTiP Qobj"):
        liouvillian_spectrum(sup)
    with pytest.raises(ValueError, match="vector_to_operator"):
        non_gaussianity(qutip.operator_to_vector(qutip.ket2dm(psi)))
    with pytest.raises(TypeError, match="QobjEvo"):
        as_operator(qutip.QobjEvo(H), "H")
    # a two-mode state where one mode is needed: refused, with the reduced state as the fix
    two = qutip.tensor(qutip.ket2dm(psi), qutip.thermal_dm(3, 0.5))
    with pytest.raises(ValueError, match=r"tensor-product space .*ptrace"):
        non_gaussianity(two)
    # the reduced state |1><1| works: G = g(1) = 2 ln 2 for a Fock state [GFL-quench, Eq. (27)]
    assert float(non_gaussianity(two.ptrace(0))) == pytest.approx(2 * np.log(2), abs=1e-12)


def test_to_qutip_errors():
    with pytest.raises(ValueError, match="stack of kets"):
        to_qutip(jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="got shape"):
        to_qutip(jnp.ones((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="dims"):
        to_qutip(jnp.eye(4), dims=[[3], [3]])
    with pytest.raises(TypeError, match="outside jit"):
        jax.jit(to_qutip)(jnp.eye(2))
    with pytest.raises(TypeError, match="expected a qutip.Qobj"):
        from_qutip(np.eye(2))
    x = jnp.eye(2)
    assert as_operator(x, "rho") is x  # arrays pass through untouched
