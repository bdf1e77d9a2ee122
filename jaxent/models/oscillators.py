"""Two coupled, thermally damped harmonic oscillators [KL].

``H = sum_j omega_j a_j^dag a_j + lambda (a_1 a_2^dag + h.c.) + kappa (a_1 a_2 + h.c.)``
[KL, Eq. (1)] with position-position coupling ``kappa = lambda`` (``"pp"``, ``H`` contains
``2 lambda x_1 x_2``) or rotating-wave coupling ``kappa = 0`` (``"rw"``). Critical couplings
``lambda_c^pp = sqrt(omega_1 omega_2)/2``, ``lambda_c^rw = sqrt(omega_1 omega_2)``; normal-mode
frequencies [KL, Eqs. (2), (3)]. Each oscillator is damped (amplitude rate ``gamma_j``) by its
own bath at temperature ``T_j``.

Steady states (covariance matrices in the conventions of :mod:`jaxent.gaussian.covariance`):
``"local"`` / ``"global"`` Lindblad master equations
(:mod:`jaxent.gaussian.master_equations`), the exact quantum Langevin solution
(:mod:`jaxent.gaussian.langevin`) and the Gibbs state (equal temperatures,
:func:`jaxent.gaussian.normal_modes.gibbs_covariance`).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxent._validation import is_concrete as _is_concrete
from jaxent.gaussian.checks import check_interval, check_positive, check_scalar, is_traced
from jaxent.gaussian.covariance import quadratic_hamiltonian_matrix
from jaxent.gaussian.langevin import langevin_covariance
from jaxent.gaussian.master_equations import steady_state_covariance
from jaxent.gaussian.normal_modes import gibbs_covariance

__all__ = [
    "COUPLINGS",
    "METHODS",
    "CoupledOscillators",
    "oscillator_critical_coupling",
    "kl_normal_frequencies",
    "oscillator_hamiltonian",
    "oscillator_steady_state",
    "oscillator_point",
    "occupations",
    "two_mode_mutual_information",
]

COUPLINGS = ("pp", "rw")
METHODS = ("local", "global", "langevin", "gibbs")


def _check_coupling(coupling: str) -> None:
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling: expected 'pp' or 'rw', got {coupling!r}")


def oscillator_critical_coupling(omega1: ArrayLike, omega2: ArrayLike, coupling: str) -> Array:
    """``lambda_c``: ``sqrt(omega_1 omega_2)/2`` (pp) or ``sqrt(omega_1 omega_2)`` (rw)
    [KL, Sec. II]."""
    _check_coupling(coupling)
    lc = jnp.sqrt(jnp.asarray(omega1, float) * jnp.asarray(omega2, float))
    return 0.5 * lc if coupling == "pp" else lc


def kl_normal_frequencies(omega1, omega2, lam, coupling: str) -> Array:
    """``(omega_-, omega_+)`` from the closed forms [KL, Eqs. (2) (pp), (3) (rw)]."""
    _check_coupling(coupling)
    w1, w2, lam = (jnp.asarray(v, float) for v in (omega1, omega2, lam))
    sgn = jnp.array([-1.0, 1.0])
    if coupling == "pp":
        root = jnp.sqrt((w1**2 - w2**2) ** 2 + 16 * lam**2 * w1 * w2)
        return jnp.sqrt((w1**2 + w2**2 + sgn * root) / 2)
    return (w1 + w2 + sgn * jnp.sqrt((w1 - w2) ** 2 + 4 * lam**2)) / 2


def oscillator_hamiltonian(omega1, omega2, lam, coupling: str) -> Array:
    """``G`` (``H = r^T G r / 2``) of [KL, Eq. (1)]: ``M = [[w1, lam], [lam, w2]]`` hopping and
    ``kappa (a_1 a_2 + h.c.)`` pairing with ``kappa = lam`` (pp) or 0 (rw)."""
    _check_coupling(coupling)
    w1, w2, lam = (jnp.asarray(v, float) for v in (omega1, omega2, lam))
    M = jnp.array([[w1, lam], [lam, w2]])
    kap = lam if coupling == "pp" else 0.0 * lam
    K = jnp.array([[0.0 * lam, kap], [kap, 0.0 * lam]])
    return quadratic_hamiltonian_matrix(M, K)


_RULES = {
    "lam_over_lamc": (functools.partial(check_interval, lo=0.0, hi=1.0),
                      "must lie in [0, 1) (lambda < lambda_c: at or beyond lambda_c the "
                      "Hamiltonian is not bounded below)"),
    "omega1": (check_positive, "frequencies must be finite and > 0"),
    "omega2": (check_positive, "frequencies must be finite and > 0"),
    "gamma1": (check_positive, "damping rates must be finite and > 0"),
    "gamma2": (check_positive, "damping rates must be finite and > 0"),
    "T1": (check_positive, "temperatures must be finite and > 0"),
    "T2": (check_positive, "temperatures must be finite and > 0"),
}


class CoupledOscillators(eqx.Module):
    """Parameters of the KL model. ``coupling`` is static; the rest may be traced
    (``jit``/``vmap``/``grad``).

    Defaults are those of KL's figures: ``omega = (5, 2)``, ``gamma_1 = gamma_2 = 1.5e-4``,
    ``T_1 = T_2 = 98``. Concrete values are validated at construction (``ValueError`` naming
    the parameter: NaN/inf, ``lam_over_lamc`` outside ``[0, 1)``, non-positive frequencies,
    damping rates or temperatures); traced values are checked in :func:`oscillator_point`
    with ``equinox.error_if``.
    """

    lam_over_lamc: Array
    omega1: Array = eqx.field(default=5.0)
    omega2: Array = eqx.field(default=2.0)
    gamma1: Array = eqx.field(default=1.5e-4)
    gamma2: Array = eqx.field(default=1.5e-4)
    T1: Array = eqx.field(default=98.0)
    T2: Array = eqx.field(default=98.0)
    coupling: str = eqx.field(static=True, default="pp")

    def __check_init__(self):
        _check_coupling(self.coupling)
        for k, (fn, what) in _RULES.items():
            v = getattr(self, k)
            if not is_traced(v):
                fn(v, k, what)

    @property
    def lam(self) -> Array:
        return self.lam_over_lamc * oscillator_critical_coupling(self.omega1, self.omega2,
                                                                 self.coupling)

    @property
    def G(self) -> Array:
        return oscillator_hamiltonian(self.omega1, self.omega2, self.lam, self.coupling)

    @property
    def gamma(self) -> Array:
        return jnp.stack([jnp.asarray(self.gamma1, float), jnp.asarray(self.gamma2, float)])

    @property
    def T(self) -> Array:
        return jnp.stack([jnp.asarray(self.T1, float), jnp.asarray(self.T2, float)])


def oscillator_steady_state(model: CoupledOscillators, method: str,
                            weights: str = "davies") -> Array:
    """Steady-state covariance ``(4, 4)`` for ``method`` in ``local, global, langevin, gibbs``.

    ``"gibbs"`` needs ``T1 == T2`` (``ValueError`` otherwise). ``weights`` selects the global
    master equation's bath weights (:mod:`jaxent.gaussian.master_equations`).
    """
    if method in ("local", "global"):
        return steady_state_covariance(model.G, model.gamma, model.T, method, weights)
    if method == "langevin":
        return langevin_covariance(model.G, model.gamma, model.T)
    if method == "gibbs":
        if _is_concrete(model.T1, model.T2) and float(model.T1) != float(model.T2):
            raise ValueError(f"method: the Gibbs state needs T1 == T2, got T1={model.T1}, "
                             f"T2={model.T2}")
        return gibbs_covariance(model.G, model.T1)
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


def _checked(model: CoupledOscillators) -> CoupledOscillators:
    """``model`` with every parameter scalar-checked (``ValueError``) and value-checked
    (``ValueError`` if concrete, ``equinox.error_if`` if traced; :mod:`jaxent.gaussian.checks`)."""
    for k in _RULES:
        check_scalar(getattr(model, k), k)
    vals = tuple(fn(getattr(model, k), k, what) for k, (fn, what) in _RULES.items())
    return eqx.tree_at(lambda m: tuple(getattr(m, k) for k in _RULES), model, vals)


def oscillator_point(model: CoupledOscillators, method: str,
                     weights: str = "davies") -> dict[str, Array]:
    """The point function of the KL model: one steady state, as a flat dict of float64 scalars.

    ``model``'s fields ``lam_over_lamc``, ``omega1``, ``omega2``, ``gamma1``, ``gamma2``, ``T1``,
    ``T2`` are scalars, traced or not (``jax.jit``/``jax.vmap`` of a function that builds the
    model, ``jax.jacfwd`` w.r.t. any of them); ``model.coupling`` (``"pp"``/``"rw"``),
    ``method`` (``"local"``, ``"global"``, ``"langevin"``, ``"gibbs"``) and ``weights`` (global
    master equation: ``"davies"``/``"kms"``) are static strings. Returns
    ``lam`` (``lambda = lam_over_lamc * lambda_c``), ``omega_minus``, ``omega_plus`` (normal-mode
    frequencies [KL, Eqs. (2), (3)]), ``n1``, ``n2`` (``<a_j^dag a_j>``) and ``mutual_info``
    (nats, [KL, App. B]); no flag columns (below ``lambda_c`` with positive damping every
    method has a unique steady state).

    Bad input raises ``ValueError`` naming the parameter when concrete (a non-scalar field
    always), an ``equinox`` runtime error with the same message when traced; so does
    ``method="gibbs"`` with ``T1 != T2``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    model = _checked(model)
    if method == "gibbs":
        msg = "T1, T2: the Gibbs state needs T1 == T2"
        if is_traced([model.T1, model.T2]):
            model = eqx.tree_at(lambda m: m.T1, model,
                                eqx.error_if(model.T1, model.T1 != model.T2, msg))
        elif float(model.T1) != float(model.T2):
            raise ValueError(f"{msg}, got T1={float(model.T1)}, T2={float(model.T2)}")
    sigma = oscillator_steady_state(model, method, weights)
    n = occupations(sigma)
    om = kl_normal_frequencies(model.omega1, model.omega2, model.lam, model.coupling)
    return {
        "lam": jnp.asarray(model.lam, float),
        "omega_minus": om[0],
        "omega_plus": om[1],
        "n1": n[0],
        "n2": n[1],
        "mutual_info": two_mode_mutual_information(sigma),
    }


def occupations(sigma: ArrayLike) -> Array:
    """``<a_j^dag a_j> = (sigma_{x_j x_j} + sigma_{p_j p_j} - 1)/2`` for a centred state
    [KL, end of App. A]. Shape ``(n,)``."""
    d = jnp.diagonal(jnp.asarray(sigma))
    return 0.5 * (d[0::2] + d[1::2] - 1.0)


def _f(x):
    # f(x) = (x + 1/2) ln(x + 1/2) - (x - 1/2) ln(x - 1/2), with 0 ln 0 = 0
    xm = jnp.maximum(x - 0.5, 0.0)
    safe = jnp.where(xm > 0, xm, 1.0)
    return (x + 0.5) * jnp.log(x + 0.5) - jnp.where(xm > 0, xm * jnp.log(safe), 0.0)


def two_mode_mutual_information(sigma: ArrayLike) -> Array:
    """Mutual information of a two-mode Gaussian state from invariants [KL, App. B; their
    Ref. 66]: ``I = f(a) + f(b) - f(n_-) - f(n_+)`` with ``a = sqrt(det alpha)``,
    ``b = sqrt(det beta)``, ``n_-+^2 = (Delta -+ sqrt(Delta^2 - 4 det sigma))/2``,
    ``Delta = det alpha + det beta + 2 det gamma`` (natural log, nats).
    """
    s = jnp.asarray(sigma, dtype=float)
    if s.shape != (4, 4):
        raise ValueError(f"sigma: expected a (4, 4) two-mode covariance, got {s.shape}")
    al, be, ga = s[:2, :2], s[2:, 2:], s[:2, 2:]
    da, db, dg = jnp.linalg.det(al), jnp.linalg.det(be), jnp.linalg.det(ga)
    delta = da + db + 2 * dg
    disc = jnp.sqrt(jnp.maximum(delta**2 - 4 * jnp.linalg.det(s), 0.0))
    n_minus = jnp.sqrt((delta - disc) / 2)
    n_plus = jnp.sqrt((delta + disc) / 2)
    return _f(jnp.sqrt(da)) + _f(jnp.sqrt(db)) - _f(n_minus) - _f(n_plus)
