r"""The Gaussianized driven-dissipative (open) Dicke model [GFL20, Sec. V, App. C, Fig. 3].

Model [GFL20, Eq. (C1)-(C2)]: ``H = omega_0 J_z + omega a^dag a + (2 lambda/sqrt N)(a + a^dag) J_x``
with cavity loss ``2 kappa D[a]``; after the Holstein-Primakoff map and ``N -> infinity`` the
fluctuations ``delta a``, ``delta b`` are Gaussian, with a small stabilising loss
``2 gamma D[delta b]`` [GFL20, Eq. (C20)].

Critical coupling (derived here; GFL20's main text and App. C disagree)
-----------------------------------------------------------------------
Steady state of the mean-field equations (C3)-(C5): ``beta`` real, ``alpha = -2 i lambda beta /
(kappa + i omega)`` (C6), so ``alpha + alpha^* = -4 lambda omega beta / (kappa^2 + omega^2)``, and
(C4) gives ``omega_0 beta = 2 lambda (alpha + alpha^*) w``, i.e. either ``beta = 0`` or
``w = -omega_0 (kappa^2 + omega^2) / (8 lambda^2 omega)``. With ``w = -sqrt(1 - 4 beta^2)/2`` this
is
``sqrt(1 - 4 beta^2) = lambda_c^2/lambda^2`` (C8) with

    ``lambda_c = (1/2) sqrt(omega_0 (kappa^2 + omega^2) / omega)``      [GFL20, App. C, below (C7)]

(0.353571 for the defaults). The same value follows from the fluctuations: the normal-phase
drift matrix has ``det A = (kappa^2 + omega^2)(gamma^2 + omega_0^2) - 4 omega_0 omega lambda^2``,
which
for ``gamma = 0`` vanishes exactly at this ``lambda_c``. The main-text formula
``sqrt(omega_0 (kappa^2 + omega^2))/omega`` [GFL20, Sec. V and Fig. 3 caption] is wrong: it is not
even dimensionally a frequency (it scales as frequency^{1/2}); for the defaults it gives 7.07,
far inside the superradiant phase.

Where the instability sits for ``gamma > 0``
--------------------------------------------
With ``gamma > 0`` the normal-phase ``det A`` above vanishes (a real eigenvalue crosses zero)
at ``lambda_* = lambda_c sqrt(1 + gamma^2/omega_0^2)`` (``1.0198 lambda_c`` for gamma = 1e-3,
omega_0 = 0.005), not at ``lambda_c``; at ``lambda_c`` itself
``det A = (kappa^2 + omega^2) gamma^2 > 0``
on both branches, so ``Pi_d`` stays finite there (~ 1/gamma^2 scale). The superradiant branch
(used for ``lambda > lambda_c``, as the mean field of [GFL20, App. C] ignores gamma) is stable for
every ``lambda > lambda_c``. Hence the ``1/|lambda - lambda_c|`` law [GFL20, Eq. (13)] only holds
for ``|lambda - lambda_c|/lambda_c >> (gamma/omega_0)^2``, and a fitted slope depends on the
window unless gamma is tiny (:func:`normal_phase_instability`).

Quadratic Hamiltonian [GFL20, Eqs. (C16)-(C19)]
-----------------------------------------------
With ``s = lambda_c^2/lambda^2`` above and ``s = 1`` below ``lambda_c`` (normal phase),
``tilde beta_-^2 = (1 - s)/2``, ``tilde beta_+^2 = (1 + s)/2``, and (C17)-(C19) evaluated on the
mean
field simplify to ``tilde omega_0 = omega_0 (1 + s)/(2 s)``,
``tilde lambda = lambda s / tilde beta_+``,
``zeta = -omega_0 (1 - s)/(4 s) (1 + (1 - s)/(2(1 + s)))`` -- smooth in ``s``, so ``jax.grad`` is
finite on both sides. (C14)'s constant ``+N sqrt(1-4 beta^2)/2`` should read ``-N ...``
(``<J_z> = w N < 0``); it does not enter the fluctuations. (C15)-(C19) check out.

Drift matrix (C25)
------------------
From (C22), ``d dq_b/dt = tilde omega_0 dp_b``,
``d dp_b/dt = (4 zeta - tilde omega_0) dq_b - 2 tilde lambda dq_a``,
``d dq_a/dt = omega dp_a``, ``d dp_a/dt = -omega dq_a - 2 tilde lambda dq_b``, plus damping
``-gamma`` and
``-kappa``: this is exactly the printed (C25) (order ``(q_b, p_b, q_a, p_a)``) with diffusion
``diag(gamma, gamma, kappa, kappa)``. jaxent builds it from ``G`` with the generic
:func:`jaxent.gaussian.covariance.drift_diffusion` (mode order ``(a, b)``) and the tests compare
with (C25).

Everything here is a pure function of a :class:`Dicke` pytree; ``lam`` etc. may be traced, so
``jax.jit``, ``jax.vmap`` sweeps and ``jax.grad``/``jax.jacfwd`` work. :func:`dicke_point` is
the point function (one parameter point -> flat dict of float64 scalars; its docstring lists
the columns, the diagnostics and how bad input, ``lam = 0`` and ``lam = lambda_c`` are
handled).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxent.gaussian.checks import check_nonnegative, check_positive, check_scalar, is_traced
from jaxent.gaussian.covariance import drift_diffusion
from jaxent.gaussian.lyapunov import lyapunov_solve
from jaxent.gaussian.production import wehrl_photon_loss_split, wehrl_pi_d_per_channel

__all__ = [
    "Dicke",
    "dicke_critical_coupling",
    "dicke_critical_coupling_main_text",
    "normal_phase_instability",
    "mean_field",
    "mean_field_rhs",
    "hp_coefficients",
    "fluctuation_hamiltonian",
    "drift_diffusion_dicke",
    "drift_matrix_c25",
    "dicke_point",
    "normal_branch_pi_d",
    "check_dicke",
    "dpi_u_dlam",
]


_FIELDS = ("lam", "omega0", "omega", "kappa", "gamma")


class Dicke(eqx.Module):
    """Parameters of the open Dicke model [GFL20, Eq. (12), (C20)]; defaults of GFL20 Fig. 3.

    ``lam``: coupling lambda; ``omega0``: spin frequency; ``omega``: cavity frequency;
    ``kappa``: cavity loss (``2 kappa D[a]``); ``gamma``: stabilising loss ``2 gamma D[delta b]``.

    Fields may be scalars or (for ``jax.vmap``) arrays. Concrete values are validated at
    construction (``ValueError`` naming the parameter: NaN/inf, ``lam < 0``, ``kappa < 0``,
    ``gamma < 0``, ``omega0 <= 0``, ``omega <= 0``); traced values are checked inside
    :func:`dicke_point` with ``equinox.error_if``.
    """

    lam: Array | float
    omega0: Array | float = 0.005
    omega: Array | float = 0.01
    kappa: Array | float = 1.0
    gamma: Array | float = 1e-3

    def __check_init__(self):
        concrete = {k: getattr(self, k) for k in _FIELDS if not is_traced(getattr(self, k))}
        if concrete:
            _check_fields(self, only=concrete)


def dicke_critical_coupling(omega0, omega, kappa) -> Array:
    """``lambda_c = (1/2) sqrt(omega_0 (kappa^2 + omega^2)/omega)`` [GFL20, App. C] (see module
    docstring for why this, and not the main-text formula, is right)."""
    return 0.5 * jnp.sqrt(omega0 * (kappa**2 + omega**2) / omega)


def dicke_critical_coupling_main_text(omega0, omega, kappa) -> Array:
    """The main-text formula ``sqrt(omega_0 (kappa^2 + omega^2))/omega`` [GFL20, Sec. V] --
    dimensionally wrong; kept only to document the discrepancy."""
    return jnp.sqrt(omega0 * (kappa**2 + omega**2)) / omega


def normal_phase_instability(omega0, omega, kappa, gamma) -> Array:
    """``lambda_* = lambda_c sqrt(1 + gamma^2/omega_0^2)``: where the normal-phase drift matrix
    (with the stabilising loss gamma) stops being Hurwitz (``det A = 0``)."""
    return dicke_critical_coupling(omega0, omega, kappa) * jnp.sqrt(1.0 + (gamma / omega0) ** 2)


def _s(m: Dicke) -> Array:
    lc = dicke_critical_coupling(m.omega0, m.omega, m.kappa)
    lam = jnp.asarray(m.lam, dtype=float)
    safe = jnp.where(jnp.abs(lam) > lc, lam, 2.0 * lc)  # keeps grads finite in the normal phase
    return jnp.where(jnp.abs(lam) > lc, (lc / safe) ** 2, 1.0)


def mean_field(m: Dicke) -> tuple[Array, Array, Array]:
    """Mean-field NESS ``(alpha, beta, w)`` [GFL20, Eqs. (C6)-(C8)]: ``<a> = alpha sqrt N``,
    ``<J_-> = beta N``, ``<J_z> = w N``. Normal phase: ``(0, 0, -1/2)``; superradiant: the
    ``beta > 0`` solution of (C8) (the other is its Z2 image)."""
    s = _s(m)
    b2 = (1.0 - s**2) / 4.0
    beta = jnp.where(b2 > 0, jnp.sqrt(jnp.where(b2 > 0, b2, 1.0)), 0.0)
    alpha = -2j * m.lam * beta / (m.kappa + 1j * m.omega)
    w = -0.5 * s
    return alpha, beta, w


def mean_field_rhs(m: Dicke, alpha, beta, w) -> tuple[Array, Array, Array]:
    """Right-hand sides of the mean-field equations [GFL20, Eqs. (C3)-(C5)]."""
    x = alpha + jnp.conj(alpha)
    da = -(m.kappa + 1j * m.omega) * alpha - 1j * m.lam * (beta + jnp.conj(beta))
    db = -1j * m.omega0 * beta + 2j * m.lam * x * w
    dw = 1j * m.lam * x * (beta - jnp.conj(beta))
    return da, db, dw


def hp_coefficients(m: Dicke) -> tuple[Array, Array, Array]:
    """``(tilde omega_0, tilde lambda, zeta)`` of the quadratic Hamiltonian (C16), i.e.
    [GFL20, Eqs. (C17)-(C19)] evaluated on the mean field (closed forms in the module
    docstring; equal to (C17)-(C19) with (C6), (C13), as the tests check)."""
    s = _s(m)
    bp = jnp.sqrt((1.0 + s) / 2.0)
    w0t = m.omega0 * (1.0 + s) / (2.0 * s)
    lamt = m.lam * s / bp
    zeta = -m.omega0 * (1.0 - s) / (4.0 * s) * (1.0 + (1.0 - s) / (2.0 * (1.0 + s)))
    return w0t, lamt, zeta


def fluctuation_hamiltonian(m: Dicke) -> Array:
    """``G`` with ``H_2 = (1/2) r^T G r`` [GFL20, Eq. (C22)], ``r = (dq_a, dp_a, dq_b, dp_b)``."""
    w0t, lamt, zeta = hp_coefficients(m)
    z = jnp.zeros_like(w0t)
    om = jnp.asarray(m.omega, dtype=float) + z
    return jnp.array([
        [om, z, 2 * lamt, z],
        [z, om, z, z],
        [2 * lamt, z, w0t - 4 * zeta, z],
        [z, z, z, w0t],
    ])


def drift_diffusion_dicke(m: Dicke) -> tuple[Array, Array]:
    """``(A, D)`` of the fluctuations (mode order ``(a, b)``), from ``G`` and the channels
    ``2 kappa D[delta a] + 2 gamma D[delta b]`` [GFL20, Eqs. (C20), (C24)]."""
    G = fluctuation_hamiltonian(m)
    return drift_diffusion(G, jnp.stack([jnp.asarray(m.kappa, float), jnp.asarray(m.gamma, float)]),
                           0.0)


def drift_matrix_c25(m: Dicke) -> Array:
    """The drift matrix exactly as printed in [GFL20, Eq. (C25)], order ``(q_b, p_b, q_a, p_a)``
    (for comparison only)."""
    w0t, lamt, zeta = hp_coefficients(m)
    g, k, om = m.gamma, m.kappa, m.omega
    return jnp.array([
        [-g, w0t, 0.0, 0.0],
        [4 * zeta - w0t, -g, -2 * lamt, 0.0],
        [0.0, 0.0, -k, om],
        [-2 * lamt, 0.0, -om, -k],
    ])


_FIELDS = ("lam", "omega0", "omega", "kappa", "gamma")


_CHECKS = {
    "lam": (check_nonnegative, "coupling must be finite and >= 0 (the model is symmetric in "
                               "its sign)"),
    "omega0": (check_positive, "frequencies must be finite and > 0"),
    "omega": (check_positive, "frequencies must be finite and > 0"),
    "kappa": (check_nonnegative, "loss rates must be finite and >= 0"),
    "gamma": (check_nonnegative, "loss rates must be finite and >= 0"),
}


def _check_fields(m: Dicke, only: dict | None = None) -> Dicke | None:
    """Value checks of the fields (any shape; :mod:`jaxent.gaussian.checks`): ``ValueError``
    on concrete values, ``equinox.error_if`` on traced ones. Returns a :class:`Dicke` holding
    the checked leaves (``None`` when ``only``, a dict of a subset of the fields, is given)."""
    if only is not None:
        for k, v in only.items():
            fn, what = _CHECKS[k]
            fn(v, k, what)
        return None
    vals = [fn(getattr(m, k), k, what) for k, (fn, what) in _CHECKS.items()]
    return Dicke(*vals)


def _check_not_critical(m: Dicke) -> None:
    """Eager refusal of ``lam == lambda_c`` (only when every value involved is concrete)."""
    if is_traced([m.lam, m.omega0, m.omega, m.kappa]):
        return
    lam = np.asarray(m.lam, dtype=float)
    lc = 0.5 * np.sqrt(np.asarray(m.omega0, float) * (np.asarray(m.kappa, float) ** 2
                                                      + np.asarray(m.omega, float) ** 2)
                       / np.asarray(m.omega, float))
    if np.any(lam == lc):
        raise ValueError(
            f"lam: exactly at the critical coupling lambda_c = {float(np.max(lc)):.12g}, where the "
            "normal and superradiant branches meet (Pi_U has a kink, Pi_d ~ 1/|lambda - lambda_c| "
            "as gamma -> 0); evaluate on either side of it")


def check_dicke(m: Dicke) -> None:
    """Eager validation of a (possibly batched) :class:`Dicke`: ``ValueError`` naming the
    parameter for NaN/inf, negative ``lam``, ``kappa``, ``gamma``, non-positive ``omega0``,
    ``omega`` or ``lam`` exactly at ``lambda_c``. No-op when any field is traced (inside
    :func:`dicke_point` the same checks then run through ``equinox.error_if``)."""
    if is_traced([getattr(m, k) for k in _FIELDS]):
        return
    _check_fields(m)
    _check_not_critical(m)


def dicke_point(m: Dicke) -> dict[str, Array]:
    r"""All Fig. 3 quantities of the Gaussianized Dicke NESS at one parameter point.

    The point function of the model: every field of ``m`` is a float64 scalar (a Python
    number, a concrete array or a tracer); ``jax.jit``, ``jax.vmap`` (over a batched
    ``Dicke`` or a function building one) and ``jax.jacfwd``/``jax.grad`` w.r.t. any field
    work. Returns a flat dict of scalars:

    * physics: ``lam_c``, ``Pi_U``, ``Pi_d``, ``Phi_q`` (Wehrl split of [GFL20, Eqs. (7)-(8)],
      both loss channels ``kappa`` on ``delta a`` and ``gamma`` on ``delta b`` included),
      ``Pi_d_a`` (the cavity channel alone), ``n_a_fluct = <delta a^dag delta a>``,
      ``n_b_fluct``, ``alpha_re``, ``alpha_im``, ``beta`` (mean field, [GFL20, Eqs. (C6)-(C8)]);
    * diagnostics: ``max_re_eig`` (largest real part of the drift's eigenvalues; < 0 iff a
      NESS exists; its derivative is cut, ``stop_gradient``), ``ness_identity_residual`` and
      ``lyapunov_residual`` (round-off level in an exact NESS; their derivatives are noise);
    * flags (0.0 / 1.0): ``superradiant`` (``lam > lam_c``) and ``at_critical``
      (``lam == lam_c`` exactly).

    ``ness_identity_residual = (Pi_U + Pi_d - Phi_q) / (|Phi_q| + kappa + gamma)`` checks the NESS
    identity [GFL20, Eq. (10)]. The denominator is ``sum_i kappa_i tr_i sigma``, the size of the
    largest terms summed in ``Pi_d`` and ``Phi_q`` (hence their rounding floor): for
    ``Phi_q >> kappa + gamma`` it is the relative residual, for small ``Phi_q`` the absolute one
    in units of the loss rates. It never divides 0 by 0: at ``lam = 0`` the NESS is the vacuum,
    ``Pi_U = Pi_d = Phi_q = 0``, and the residual is 0 (a plain ``/Phi_q`` gave -1 there, and
    ~1e-8 already at ``lam = 1e-4 lam_c`` from the cancellation in ``tr sigma - 1``).

    Errors. Bad input (NaN/inf, ``lam < 0``, ``kappa < 0``, ``gamma < 0``, ``omega0 <= 0``,
    ``omega <= 0``) raises ``ValueError`` naming the parameter when the value is concrete and,
    under ``jit``/``vmap``, an ``equinox`` runtime error with the same message; a non-scalar
    field always raises ``ValueError`` (use ``jax.vmap`` to batch). Physics is not an error:
    where the drift is not Hurwitz (no NESS, e.g. ``kappa = 0`` or ``gamma = 0`` with
    ``lam = 0``) the entropy columns are NaN and ``max_re_eig >= 0``. The point exactly at
    ``lambda_c`` (where the branches meet: ``Pi_U`` has a kink and ``Pi_d ~ 1/|lam - lam_c|``
    as ``gamma -> 0``) is refused with a ``ValueError`` when every value is concrete; under a
    trace it cannot be refused per point without aborting the whole batch, so there the
    entropy columns and their derivatives are NaN and ``at_critical = 1``. (For ``gamma > 0``
    the values themselves stay finite and continuous at ``lambda_c``; only their derivative
    jumps, see the module docstring.)
    """
    for k in _FIELDS:
        check_scalar(getattr(m, k), k)
    checked = _check_fields(m)
    assert checked is not None  # (None only when a subset of the fields is checked)
    m = checked
    _check_not_critical(m)
    G = fluctuation_hamiltonian(m)
    A, D = drift_diffusion_dicke(m)
    sol = lyapunov_solve(A, D, method="kron")
    sigma = sol.sigma
    kappa = jnp.asarray(m.kappa, float)
    gamma = jnp.asarray(m.gamma, float)
    kap = jnp.stack([kappa, gamma])
    pu, pd, fq = wehrl_photon_loss_split(sigma, G, kap)
    pd_a = wehrl_pi_d_per_channel(sigma, kap)[0]
    alpha, beta, _ = mean_field(m)
    lam = jnp.asarray(m.lam, float)
    lc = dicke_critical_coupling(m.omega0, m.omega, m.kappa)
    at_c = lam == lc
    # NaN (value and tangent) exactly at lambda_c; exactly 1.0 elsewhere
    nan_at_c = jnp.where(at_c, jnp.nan, 1.0)
    pu, pd, fq, pd_a = (v * nan_at_c for v in (pu, pd, fq, pd_a))
    return {
        "lam_c": lc,
        "Pi_U": pu,
        "Pi_d": pd,
        "Phi_q": fq,
        "Pi_d_a": pd_a,
        "n_a_fluct": (0.5 * (sigma[0, 0] + sigma[1, 1]) - 0.5) * nan_at_c,
        "n_b_fluct": (0.5 * (sigma[2, 2] + sigma[3, 3]) - 0.5) * nan_at_c,
        "alpha_re": jnp.real(alpha),
        "alpha_im": jnp.imag(alpha),
        "beta": beta,
        "superradiant": (jnp.abs(lam) > lc).astype(float),
        "at_critical": at_c.astype(float),
        "max_re_eig": sol.max_re_eig,
        "ness_identity_residual": (pu + pd - fq) / (jnp.abs(fq) + kappa + gamma),
        "lyapunov_residual": sol.residual,
    }


def dpi_u_dlam(m: Dicke) -> Array:
    """``d Pi_U / d lambda`` by ``jax.grad`` (one-sided at the branch: the branch is chosen by
    ``lam > lam_c``)."""
    return jax.grad(lambda lam: dicke_point(eqx.tree_at(lambda t: t.lam, m, lam))["Pi_U"])(
        jnp.asarray(m.lam, float))


def normal_branch_pi_d(m: Dicke) -> Array:
    r"""``Pi_d`` of the normal-phase fluctuations (mean field zero, ``s = 1``) at any ``lam``.

    Below ``lambda_c`` this is :func:`dicke_point`'s ``Pi_d``; above it, the normal branch
    continued (unphysical there, where :func:`dicke_point` switches to the superradiant branch).
    Its covariance diverges where the drift matrix stops being Hurwitz, at
    :func:`normal_phase_instability` ``lambda_* = lambda_c sqrt(1 + gamma^2/omega_0^2)``, so
    ``1/Pi_d`` has a simple root there [GFL20, Eq. (13)] -- the divergence that locates the
    transition. NaN beyond ``lambda_*`` (no steady state). jit/vmap/grad-able in every field.
    """
    lam = jnp.asarray(m.lam, float)
    z = jnp.zeros_like(lam)
    om, w0 = jnp.asarray(m.omega, float) + z, jnp.asarray(m.omega0, float) + z
    # [GFL20, Eq. (C22)] with s = 1: tilde omega_0 = omega_0, tilde lambda = lambda, zeta = 0
    G = jnp.array([[om, z, 2 * lam, z], [z, om, z, z], [2 * lam, z, w0, z], [z, z, z, w0]])
    kap = jnp.stack([jnp.asarray(m.kappa, float), jnp.asarray(m.gamma, float)])
    A, D = drift_diffusion(G, kap, 0.0)
    sigma = lyapunov_solve(A, D, method="kron").sigma
    return wehrl_photon_loss_split(sigma, G, kap)[1]
