"""Steady states and time evolution of Gaussian covariance matrices.

The covariance obeys ``d sigma/dt = A sigma + sigma A^T + D`` [MSCPL19, Eq. (B1)]; its steady
state solves the continuous Lyapunov equation ``A sigma + sigma A^T + D = 0``, which has a
unique (and, for ``D >= 0``, positive semi-definite) solution iff ``A`` is Hurwitz (every
eigenvalue has negative real part). If ``A`` is not Hurwitz there is no steady state: the
covariance grows without bound, and any number a solver returns is meaningless.

Algorithms (``method=``):

* ``"kron"``: solve the ``(2n)^2``-dimensional linear system ``(A (x) I + I (x) A) vec(sigma) =
  -vec(D)`` with LU. Exact and robust; O(n^6), for a few modes (default for ``2n <= 16``).
* ``"eig"``: diagonalise ``A = V diag(lam) V^{-1}``; then ``sigma = V X V^T`` with
  ``X_ij = -(V^{-1} D V^{-T})_ij / (lam_i + lam_j)``, O(n^3), followed by one step of
  iterative refinement (the residual is solved with the same factorisation). Needs a
  diagonalisable, not too ill-conditioned ``A`` (checked through the returned residual).
  ``jnp.linalg.eig`` runs on CPU only in JAX, so this is the default on CPU for large n.
* ``"sign"``: Roberts' matrix-sign-function (Newton) iteration with determinant scaling,
  O(n^3) per step using only inverses and matmuls, so it runs on GPUs; a fixed number of
  steps (``sign_steps``) keeps it reverse-differentiable. Default for large n off-CPU.

Differentiation goes through the implicit function theorem (a ``jax.custom_jvp``): the tangent
solves ``A dsigma + dsigma A^T = -(dA sigma + sigma dA^T + dD)`` with the same ``A``, so
``jax.grad`` costs one more Lyapunov solve and never differentiates through the iteration or
the eigenvectors. Everything is ``vmap``-able.

Errors: called eagerly (concrete arrays), an ``A`` that is not Hurwitz raises ``ValueError``
with its largest real part. Under ``jit``/``vmap`` no exception can be raised, so the
returned ``sigma`` is all-NaN (an unmistakable diagnostic) and :func:`lyapunov_solve` returns
the stability information for the caller to check.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jaxent._validation import is_concrete as _is_concrete

__all__ = [
    "LyapunovSolution",
    "lyapunov_solve",
    "lyapunov_steady_state",
    "max_real_eigenvalue",
    "hurwitz_check",
    "lyapunov_residual",
    "evolve_covariance",
]

_KRON_MAX = 16
_SIGN_STEPS = 60


class LyapunovSolution(NamedTuple):
    """Result of :func:`lyapunov_solve`.

    ``sigma``: the solution (NaN where ``stable`` is False); ``max_re_eig``: the largest real
    part of the eigenvalues of ``A`` (for ``method="sign"``: ``-inf``/``+inf`` stand for
    converged-to-stable / not-stable, as that method never computes eigenvalues);
    ``stable``: whether ``A`` is Hurwitz; ``residual``: ``||A s + s A^T + D||_F / ||D||_F``.
    """

    sigma: Array
    max_re_eig: Array
    stable: Array
    residual: Array


def max_real_eigenvalue(A: ArrayLike) -> Array:
    """``max Re eig(A)`` (negative iff ``A`` is Hurwitz). Uses ``jnp.linalg.eigvals`` (CPU).

    A diagnostic, not differentiated: the gradient is cut so that ``jax.grad``/``jacfwd`` of a
    steady state never pushes tangents through a non-symmetric eigensolver (whose JVP needs
    eigenvectors and is undefined at degeneracies).
    """
    return jnp.max(jnp.real(jnp.linalg.eigvals(jax.lax.stop_gradient(jnp.asarray(A)))))


def lyapunov_residual(A: Array | np.ndarray, D: ArrayLike, sigma: Array | np.ndarray) -> Array:
    """Relative residual ``||A sigma + sigma A^T + D||_F / max(||D||_F, tiny)``."""
    r = A @ sigma + sigma @ A.T + D
    return jnp.linalg.norm(r) / jnp.maximum(jnp.linalg.norm(D), 1e-300)


def _solve_kron(A, D):
    n = A.shape[0]
    eye = jnp.eye(n, dtype=A.dtype)
    big = jnp.kron(A, eye) + jnp.kron(eye, A)
    x = jnp.linalg.solve(big, -D.reshape(-1))
    return x.reshape(n, n)


def _solve_eig(A, D):
    lam, V = jnp.linalg.eig(A)
    Vinv = jnp.linalg.inv(V)
    denom = lam[:, None] + lam[None, :]

    def apply(Dm):
        Dt = Vinv @ Dm.astype(V.dtype) @ Vinv.T
        return jnp.real(V @ (-Dt / denom) @ V.T)

    x = apply(D)
    # one step of iterative refinement with the same factorisation
    r = A @ x + x @ A.T + D
    return x + apply(r)


def _solve_sign(A, D, steps=_SIGN_STEPS):
    n = A.shape[0]

    def body(carry, _):
        Ak, Qk = carry
        Ainv = jnp.linalg.inv(Ak)
        # determinant scaling |det A|^{-1/n} speeds up the initial phase
        _, logdet = jnp.linalg.slogdet(Ak)
        c = jnp.exp(-logdet / n)
        c = jnp.where(jnp.isfinite(c), c, 1.0)
        An = 0.5 * (c * Ak + Ainv / c)
        Qn = 0.5 * (c * Qk + (Ainv @ Qk @ Ainv.T) / c)
        return (An, Qn), None

    (Aend, Qend), _ = jax.lax.scan(body, (A, D), None, length=steps)
    return 0.5 * Qend, Aend


def _raw_solve(A, D, method):
    if method == "kron":
        return _solve_kron(A, D)
    if method == "eig":
        return _solve_eig(A, D)
    if method == "sign":
        return _solve_sign(A, D)[0]
    raise ValueError(f"method: unknown Lyapunov method {method!r} (kron, eig, sign, auto)")


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _lyap(A, D, method):
    return _raw_solve(A, D, method)


@_lyap.defjvp
def _lyap_jvp(method, primals, tangents):
    A, D = primals
    dA, dD = tangents
    sigma = _lyap(A, D, method)
    rhs = dA @ sigma + sigma @ dA.T + dD
    # linear in rhs with A fixed: transposable, so reverse mode works too
    dsigma = _raw_solve(jax.lax.stop_gradient(A), rhs, method)
    return sigma, dsigma


def _pick_method(n2: int, method: str) -> str:
    if method != "auto":
        return method
    if n2 <= _KRON_MAX:
        return "kron"
    return "eig" if jax.default_backend() == "cpu" else "sign"


def _sign_of(A, steps=_SIGN_STEPS):
    n = A.shape[0]

    def body(Ak, _):
        _, logdet = jnp.linalg.slogdet(Ak)
        c = jnp.exp(-logdet / n)
        c = jnp.where(jnp.isfinite(c), c, 1.0)
        return 0.5 * (c * Ak + jnp.linalg.inv(Ak) / c), None

    return jax.lax.scan(body, A, None, length=steps)[0]


def hurwitz_check(A: ArrayLike, how: str = "auto") -> tuple[Array, Array]:
    """``(stable, max_re_eig)`` for a real square ``A``.

    ``how="eig"``: eigenvalues (``jnp.linalg.eig``, CPU only in JAX); ``how="sign"``: the
    matrix sign function (Newton iteration, matmuls and inverses only, so it runs on GPUs):
    ``A`` is Hurwitz iff ``sign(A) = -I``; ``max_re_eig`` is then reported as ``-inf``/``+inf``.
    ``"auto"``: ``eig`` on CPU, ``sign`` elsewhere. Never differentiated (stop_gradient).
    """
    A = jax.lax.stop_gradient(jnp.asarray(A, dtype=float))
    if how == "auto":
        how = "eig" if jax.default_backend() == "cpu" else "sign"
    if how == "eig":
        mre = max_real_eigenvalue(A)
        return mre < 0, mre
    if how == "sign":
        S = _sign_of(A)
        err = jnp.linalg.norm(S + jnp.eye(A.shape[0])) / jnp.sqrt(A.shape[0])
        stable = err < 1e-6  # NaN (singular A: eigenvalue 0) compares False
        return stable, jnp.where(stable, -jnp.inf, jnp.inf)
    raise ValueError(f"how: unknown stability test {how!r} (auto, eig, sign)")


def lyapunov_solve(A: ArrayLike, D: ArrayLike, method: str = "auto",
                   stability: str = "auto") -> LyapunovSolution:
    """Solve ``A sigma + sigma A^T + D = 0`` and report stability and residual.

    Never raises on an unstable ``A`` (see :func:`lyapunov_steady_state` for the checked
    version); ``sigma`` is NaN where ``A`` is not Hurwitz.

    **Arguments:** ``A``, ``D``: real ``(m, m)``; ``method``: ``"auto"``, ``"kron"``, ``"eig"``
    or ``"sign"`` (see module docstring); ``stability``: how Hurwitz-ness is tested
    (:func:`hurwitz_check`; ``"auto"`` uses eigenvalues on CPU and the sign function on other
    backends, where JAX may lack a nonsymmetric eigensolver). **Returns:**
    :class:`LyapunovSolution`.
    """
    A = jnp.asarray(A, dtype=float)
    D = jnp.asarray(D, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A: expected a square matrix, got shape {A.shape}")
    if D.shape != A.shape:
        raise ValueError(f"D: expected shape {A.shape} (same as A), got {D.shape}")
    method = _pick_method(A.shape[0], method)
    D = 0.5 * (D + D.T)
    sigma = _lyap(A, D, method)
    sigma = 0.5 * (sigma + sigma.T)
    if method == "sign" and stability == "auto":
        stability = "sign"
    stable, mre = hurwitz_check(A, stability)
    res = lyapunov_residual(A, D, jax.lax.stop_gradient(sigma))
    sigma = jnp.where(stable, sigma, jnp.nan)
    return LyapunovSolution(sigma, mre, stable, res)


def lyapunov_steady_state(A: ArrayLike, D: ArrayLike, method: str = "auto",
                          residual_tol: float = 1e-8, stability: str = "auto") -> Array:
    """Steady-state covariance: the solution of ``A sigma + sigma A^T + D = 0`` [MSCPL19, Eq. (B1)
    with d/dt = 0].

    Differentiable in ``A`` and ``D`` (implicit differentiation, one extra solve), ``vmap``-able.

    Raises ``ValueError`` (when called on concrete arrays) if ``A`` is not Hurwitz (no steady
    state: the covariance diverges; fix the parameters, e.g. add damping or move away from
    the instability) or if the relative residual exceeds ``residual_tol`` (ill-conditioned
    ``A``: try ``method="kron"``). Under ``jit``/``vmap`` it returns NaN instead; use
    :func:`lyapunov_solve` to get the diagnostics there.
    """
    sol = lyapunov_solve(A, D, method, stability)
    if _is_concrete(sol.sigma):
        if not bool(sol.stable):
            raise ValueError(
                "A: drift matrix is not Hurwitz (max Re eig = "
                f"{float(sol.max_re_eig):.6g} >= 0), so there is no steady state; the "
                "covariance grows without bound. Add damping or move away from the instability.")
        if not float(sol.residual) <= residual_tol:
            raise ValueError(
                f"A: Lyapunov residual {float(sol.residual):.3e} exceeds {residual_tol:g} "
                "(ill-conditioned or defective drift matrix); try method='kron'")
    return sol.sigma


def evolve_covariance(A: ArrayLike, D: ArrayLike, sigma0: ArrayLike, t: ArrayLike) -> Array:
    """Covariance at time ``t``.

    ``sigma(t) = e^{At} sigma0 e^{A^T t} + int_0^t e^{As} D e^{A^T s} ds``.

    Exact for any ``A`` (stable or not), through Van Loan's block exponential:
    ``exp([[-A, D], [0, A^T]] t) = [[F, G], [0, e^{A^T t}]]`` and the integral equals
    ``e^{At} G``. Differentiable in every argument; ``vmap`` over ``t`` for trajectories.
    """
    A = jnp.asarray(A, dtype=float)
    D = jnp.asarray(D, dtype=float)
    sigma0 = jnp.asarray(sigma0, dtype=float)
    m = A.shape[0]
    big = jnp.block([[-A, D], [jnp.zeros_like(A), A.T]]) * t
    E = jax.scipy.linalg.expm(big)
    eAt = E[m:, m:].T
    integral = eAt @ E[:m, m:]
    out = eAt @ sigma0 @ eAt.T + integral
    return 0.5 * (out + out.T)
