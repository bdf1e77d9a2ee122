"""jaxent.lindblad.operators: dense and banded Lindbladians agree with each other, with the
superoperator matrix, with QuTiP, and their adjoints are Hilbert-Schmidt adjoints."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip as qt

from jaxent.fock.liouvillian import vec
from jaxent.fock.operators import create, destroy, number
from jaxent.lindblad import BandedLindbladian, DenseLindbladian


def _ops(n=9):
    a, ad = destroy(n), create(n)
    H = 0.3 * number(n) - 0.07 * ad @ ad @ a @ a + 0.4 * (ad + a) + 0.2j * (ad - a)
    cs = [np.sqrt(1.1) * a, np.sqrt(0.3) * ad, np.sqrt(0.2) * ad @ a]
    return H, cs


def _random(n, seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return jax.random.normal(k1, (n, n)) + 1j * jax.random.normal(k2, (n, n))


def test_banded_and_dense_agree_with_the_matrix_and_qutip():
    H, cs = _ops()
    n = H.shape[0]
    Ld, Lb = DenseLindbladian.from_operators(H, cs), BandedLindbladian.from_dense(H, cs)
    assert Lb.jump_offsets == (1, -1, 0)
    rho = _random(n, 0)
    Lq = qt.liouvillian(qt.Qobj(np.asarray(H)), [qt.Qobj(np.asarray(c)) for c in cs]).full()
    np.testing.assert_allclose(np.asarray(Ld.as_matrix()), Lq, atol=1e-13)
    np.testing.assert_allclose(np.asarray(Lb.as_matrix()), Lq, atol=1e-13)
    for L in (Ld, Lb):
        np.testing.assert_allclose(np.asarray(vec(L.mv(rho))), Lq @ np.asarray(vec(rho)),
                                   atol=1e-12)
        X = _random(n, 1)
        lhs = jnp.vdot(X, L.mv(rho))
        rhs = jnp.vdot(L.adjoint_mv(X), rho)
        assert abs(lhs - rhs) < 1e-11 * abs(lhs)
        # trace preservation: L^dag(I) = 0
        assert np.abs(np.asarray(L.adjoint_mv(jnp.eye(n)))).max() < 1e-13
    np.testing.assert_allclose(np.asarray(Lb.hamiltonian()), np.asarray(H), atol=1e-15)
    np.testing.assert_allclose(np.asarray(Lb.jump_ops()), np.asarray(jnp.stack(cs)), atol=1e-15)
    # the real-pair form a time stepper uses (the stencil's own real arithmetic, and the
    # generic conversion), against QuTiP's matrix
    pair = jnp.stack([jnp.real(rho), jnp.imag(rho)])
    for L in (Ld, Lb, Lb.prepared(), jax.jit(lambda op: op)(Lb.prepared())):
        out = L.mv_pair(pair)
        np.testing.assert_allclose(np.asarray(vec(out[0] + 1j * out[1])),
                                   Lq @ np.asarray(vec(rho)), atol=1e-12)


def test_two_modes_are_a_dense_lindbladian():
    """A two-mode model is a DenseLindbladian of tensor products: nothing above it changes."""
    n = 4
    a = destroy(n)
    eye = jnp.eye(n)
    a1, a2 = jnp.kron(a, eye), jnp.kron(eye, a)
    H = a1.conj().T @ a1 + 0.7 * a2.conj().T @ a2 + 0.2 * (a1.conj().T @ a2 + a2.conj().T @ a1) \
        + 0.3 * (a1 + a1.conj().T)
    L = DenseLindbladian.from_operators(H, [0.5 * a1, 0.4 * a2])
    assert L.dim == n * n
    from jaxent.lindblad import steady_state

    ss = steady_state(L)
    assert float(ss.residual_norm) < 1e-12 and bool(ss.resolvable)


def test_banded_rejects_other_structures():
    n = 6
    a = destroy(n)
    with pytest.raises(ValueError, match="tridiagonal"):
        BandedLindbladian.from_dense(a @ a + (a @ a).conj().T, [a])
    with pytest.raises(ValueError, match=r"c_ops\[0\]"):
        BandedLindbladian.from_dense(number(n), [a + a.conj().T])


def test_shifted_operator_and_its_solves():
    """L - sigma (the shift-invert of liouvillian_spectrum): mv, adjoint and matrix are those of
    L minus sigma, and every solver solves with it (the banded ones and the dense one factorise
    it, GMRES iterates on its mv): (L - sigma) y = b for a traceless Hermitian
    b, checked against numpy's solve of the dense matrix (L - sigma is invertible for
    sigma > 0; the solvers' trace constraint is then satisfied by the exact solution)."""
    from jaxent.lindblad import BandedElimination, DenseSolver, KrylovSolver, NestedDissection
    from jaxent.lindblad.operators import ShiftedLindbladian

    H, cs = _ops()
    n = H.shape[0]
    Lb = BandedLindbladian.from_dense(H, cs)
    sigma = 0.37
    S = ShiftedLindbladian(base=Lb, sigma=jnp.asarray(sigma))
    rho = _random(n, 2)
    np.testing.assert_allclose(np.asarray(S.mv(rho)), np.asarray(Lb.mv(rho) - sigma * rho),
                               atol=1e-13)
    np.testing.assert_allclose(np.asarray(S.adjoint_mv(rho)),
                               np.asarray(Lb.adjoint_mv(rho) - sigma * rho), atol=1e-13)
    M = np.asarray(S.as_matrix())
    np.testing.assert_allclose(M, np.asarray(Lb.as_matrix()) - sigma * np.eye(n * n), atol=1e-13)
    b = rho + jnp.conj(rho).T
    b = b - jnp.trace(b) / n * jnp.eye(n)
    y_ref = np.linalg.solve(M, np.asarray(vec(b))).reshape(n, n).T
    assert abs(np.trace(y_ref)) < 1e-12  # tr (L - sigma) y = -sigma tr y
    Ld = DenseLindbladian.from_operators(H, cs)
    cases = [(BandedElimination(), S), (NestedDissection(), S),
             (DenseSolver(), ShiftedLindbladian(base=Ld, sigma=jnp.asarray(sigma))),
             (KrylovSolver(), ShiftedLindbladian(base=Ld, sigma=jnp.asarray(sigma)))]
    for solver, op in cases:
        y = solver.compute(solver.init(op), b, jnp.asarray(0.0))[0]
        np.testing.assert_allclose(np.asarray(y), y_ref, atol=1e-10,
                                   err_msg=type(solver).__name__)
    # and a shifted dense operator is still refused by the banded solvers, naming them
    with pytest.raises(TypeError, match="^NestedDissection needs a BandedLindbladian"):
        NestedDissection().init(ShiftedLindbladian(base=Ld, sigma=jnp.asarray(sigma)))
