r"""Time evolution $\rho(t) = e^{\mathcal L t}\rho_0$ for any Lindbladian of the engine.

Two methods, one interface (:func:`evolve`):

- **ODE** (diffrax): an adaptive explicit Runge-Kutta pair on the matrix-free ``L.mv``
  (``O(n^2)`` per evaluation for a :class:`~jaxent.lindblad.BandedLindbladian`), with the error
  control of :class:`diffrax.PIDController`: Tsit5 (5(4)), or Dopri8 (8(5,3)) for tolerances
  below 1e-9. The state is carried as the real pair ``(Re rho, Im rho)``. Observables are
  computed at the save times by ``fn(t, rho)`` (:class:`diffrax.SubSaveAt` with ``fn``), so
  ``rho(t)`` is stored only if ``fn`` returns it (with slow modes, below, the ``T`` states are
  assembled first, ``O(T n^2)`` memory, then ``fn`` runs once per save time, ``save_batch``
  save times at a time).
  Differentiable with respect to everything in ``L`` and ``rho0`` by diffrax's
  :class:`~diffrax.RecursiveCheckpointAdjoint`.
  Implicit (stiff) methods do not pay off here: their Newton systems are the ``(2n^2, 2n^2)``
  Jacobian, while the stiffness of a Kerr Liouvillian only costs the explicit pair a step
  ``~ 3/||L||``, and the long times are served by the slow modes below.
- **Slow modes** (long times): once every mode faster than the ``k`` slowest of a
  :class:`~jaxent.lindblad.spectrum.Spectrum` has decayed below ``switch_tol``, at
  ``t_s = ln(1/switch_tol) / next_rate``, the deviation from the steady state is a combination of
  the slow eigenmatrices, $\rho(t) = \rho_{ss} + \sum_k c_k e^{\lambda_k (t - t_s)} r_k$, with
  $c_k$ fitted (least squares) to $\rho(t_s) - \rho_{ss}$. Every later time costs the same,
  whatever ``t``: full relaxation at a gap of 1e-6 costs no more than at 1. The fit residual
  (``slow_residual``, Frobenius norm) is the a posteriori error of the switch.

Along the trajectory :class:`Trajectory` records ``|tr rho - 1|``, the anti-Hermitian part and
the Fock-tail population at every save time (checked by :func:`check_trajectory`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent.fock.truncation import TruncationWarning, tail_population
from jaxent.gaussian.checks import check_value
from jaxent.interop import as_lindbladian, as_operator
from jaxent.lindblad.operators import AbstractLindbladian
from jaxent.lindblad.spectrum import Spectrum
from jaxent.tolerances import STATE_TOL, TAIL_TOL

#: Default relative / absolute tolerances of the ODE (per element of rho).
RTOL = 1e-8
ATOL = 1e-10
#: Fast-mode amplitude below which the slow-mode propagation takes over.
SWITCH_TOL = 1e-13


class Trajectory(eqx.Module):
    """The result of :func:`evolve` (arrays only: returned from ``jit``, stacked by ``vmap``).

    - ``ts``: ``(T,)`` save times; ``ys``: what ``fn`` returned, stacked along a leading ``T``
      axis (``rho`` itself, ``(T, n, n)``, when ``fn`` is ``None``).
    - ``trace_error``, ``hermiticity_error``, ``tail_population``: ``(T,)`` checks of ``rho(t)``.
    - ``num_steps``: accepted + rejected ODE steps; ``success``: the ODE reached its end time
      within ``max_steps``.
    - ``t_switch``: time after which the slow modes propagate (``inf`` without a spectrum);
      ``slow_residual``: Frobenius norm of the part of ``rho(t_switch) - rho_ss`` outside the
      slow modes (0 without a spectrum).
    """

    ts: jax.Array
    ys: Any  # the pytree that ``fn`` returns, stacked
    trace_error: jax.Array
    hermiticity_error: jax.Array
    tail_population: jax.Array
    num_steps: jax.Array
    success: jax.Array
    t_switch: jax.Array
    slow_residual: jax.Array


def _to_real(rho):
    return jnp.stack([jnp.real(rho), jnp.imag(rho)])


def _to_complex(y):
    return y[0] + 1j * y[1]


def _checks(rho):
    return (jnp.abs(jnp.trace(rho) - 1.0),
            jnp.max(jnp.abs(rho - jnp.conj(rho).T)),
            tail_population(jnp.real(jnp.diagonal(rho))))


def _check_save_times(ts):
    """``ts`` if its values are finite, ``>= 0`` and non-decreasing (``ValueError`` naming
    ``ts`` eagerly, :func:`equinox.error_if` under ``jit``: :func:`~jaxent.gaussian.checks.
    check_value`). Without it an out-of-order or negative time was silently wrong: diffrax
    integrates up to ``ts[-1]`` and the times were clipped into ``[0, ts[-1]]`` first."""
    def ok(xp):
        return lambda v: xp.all(xp.isfinite(v)) & xp.all(v >= 0) & xp.all(xp.diff(v) >= 0)

    return check_value(ts, "ts", ok(np), ok(jnp),
                       "save times must be finite, >= 0 and non-decreasing")


def _method(method: str, rtol: float):
    import diffrax

    if method == "auto":
        method = "dopri8" if rtol < 1e-9 else "tsit5"
    solvers = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8}
    if method not in solvers:
        raise ValueError(f"method: must be 'auto' or one of {sorted(solvers)}, got {method!r}")
    return solvers[method]()


def slow_mode_fit(spectrum: Spectrum, delta: jax.Array):
    r"""Coefficients $c_k$ of $\delta \approx \sum_k c_k r_k$ (least squares over the modes of
    ``spectrum`` whose complex-conjugate partner is also present, so the sum is Hermitian for a
    Hermitian ``delta``), and the Frobenius norm of the remainder."""
    lam, R = spectrum.eigenvalues, spectrum.modes
    k = lam.shape[0]
    real = jnp.abs(jnp.imag(lam)) <= 1e-9 * jnp.maximum(jnp.abs(lam), 1e-300)
    # a complex mode is usable only with its partner (conj eigenvalue) among the k
    close = (jnp.abs(lam[:, None] - jnp.conj(lam)[None, :])
             <= 1e-7 * jnp.maximum(jnp.abs(lam), 1e-300)[:, None])
    paired = jnp.any(close & ~jnp.eye(k, dtype=bool), axis=1)
    use = (real | paired) & jnp.isfinite(lam)  # -inf: fewer modes than asked were found
    G = jnp.einsum("iab,jab->ij", jnp.conj(R), R)
    G = jnp.where(use[:, None] & use[None, :], G, jnp.eye(k))
    rhs = jnp.where(use, jnp.einsum("iab,ab->i", jnp.conj(R), delta), 0.0)
    c = jnp.linalg.solve(G, rhs)
    rem = delta - jnp.tensordot(c, R, axes=1)
    return c, jnp.linalg.norm(rem)


def evolve(L: AbstractLindbladian, rho0, ts, fn=None, *, spectrum: Spectrum | None = None,
           rho_ss=None, method: str = "auto", rtol: float = RTOL, atol: float = ATOL,
           max_steps: int = 200_000, switch_tol: float = SWITCH_TOL,
           save_batch: int = 1) -> Trajectory:
    r"""$\rho(t) = e^{\mathcal L t}\rho_0$ at the save times ``ts`` (module docstring).

    **Arguments:**

    - ``L``: any Lindbladian; ``rho0``: ``(n, n)`` initial density matrix at ``t = 0``.
    - ``ts``: ``(T,)`` non-decreasing save times ``>= 0`` (traced; anything else is a
      ``ValueError`` naming ``ts``, or under ``jit`` an ``equinox`` runtime error).
    - ``fn(t, rho) -> pytree``: what to keep at each save time (default: ``rho``).
    - ``spectrum`` (with ``rho_ss``, the steady state of ``L``): enables the slow-mode
      propagation after ``t_switch``. Without it every time comes from the ODE.
    - ``method``: ``"auto"`` (Dopri8 below ``rtol = 1e-9``, else Tsit5), ``"tsit5"``,
      ``"dopri5"`` or ``"dopri8"``; ``rtol``, ``atol``: the ODE's error control.
    - ``max_steps`` (static): step budget of the ODE (``success`` is False when exhausted).
    - ``switch_tol``: amplitude of the neglected fast modes at the switch.
    - ``save_batch`` (static, default 1): with a spectrum, ``fn`` is applied after the ODE to
      up to this many save times at once, under ``vmap`` (wider matrix products, more memory;
      the last save time is repeated to fill equal batches and its copies dropped). Leave it
      at 1 for an ``fn`` with two or more eigensolvers or other LAPACK calls: jaxlib 0.10's
      CPU backend can deadlock on batched LAPACK calls running side by side (README,
      "Known platform issue").

    **Returns:** :class:`Trajectory`. jit-, vmap- and grad-able (static: ``fn``, ``method``,
    ``max_steps``, ``save_batch``; shapes).
    """
    n = as_lindbladian(L).dim
    rho0 = jnp.asarray(as_operator(rho0, "rho0"), jnp.complex128)
    if rho0.shape != (n, n):
        raise ValueError(f"rho0: must be a ({n}, {n}) matrix for this Lindbladian, got shape "
                         f"{rho0.shape}")
    ts = jnp.asarray(ts, jnp.float64)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ValueError(f"ts: must be a 1-D array of save times, got shape {ts.shape}")
    ts = _check_save_times(ts)
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol, atol: must be positive, got {rtol}, {atol}")
    if isinstance(save_batch, bool) or not isinstance(save_batch, (int, np.integer)) \
            or save_batch < 1:
        raise ValueError(f"save_batch: must be an integer >= 1, got {save_batch!r}")
    if (spectrum is None) != (rho_ss is None):
        raise ValueError("spectrum and rho_ss: give both (slow-mode propagation) or neither")
    if rho_ss is not None:
        rho_ss = jnp.asarray(as_operator(rho_ss, "rho_ss"), jnp.complex128)
    return _evolve(L, rho0, ts, _keep_state if fn is None else fn, spectrum, rho_ss, method,
                   float(rtol), float(atol), int(max_steps), float(switch_tol), int(save_batch))


def _keep_state(t, rho):
    return rho


# Compiled once per Lindbladian type and shape, fn and static argument: an eager call (a
# notebook) otherwise traced and compiled the ODE solve and the save-time map again every
# time, 3.2 s per call of a 5-time Kerr evolution at nmax 40 on the 2-core CPU.
@eqx.filter_jit
def _evolve(L, rho0, ts, fn, spectrum, rho_ss, method: str, rtol: float, atol: float,
            max_steps: int, switch_tol: float, save_batch: int) -> Trajectory:
    # imported here: diffrax (with optimistix) is a second of import time that nothing but the
    # time evolution needs
    import diffrax

    t_end = ts[-1]
    if spectrum is None:
        t_switch = jnp.asarray(jnp.inf)
        t1 = t_end
    else:
        rate = jnp.maximum(jax.lax.stop_gradient(spectrum.next_rate), 1e-300)
        t_switch = jnp.minimum(math.log(1.0 / switch_tol) / rate, t_end)
        t1 = t_switch
    t1 = jnp.maximum(t1, 1e-12)  # diffrax needs t1 > t0

    def save(t, y, args):
        rho = _to_complex(y)
        if spectrum is None:  # observables only: rho(t) is not stored
            return fn(t, rho), _checks(rho)
        return y  # assembled with the slow-mode part below, then fn per save time

    saveat = diffrax.SaveAt(subs=[diffrax.SubSaveAt(ts=jnp.clip(ts, 0.0, t1), fn=save),
                                  diffrax.SubSaveAt(t1=True)])
    op = L.prepared()  # e.g. the banded operator's stencil: coefficients computed once
    term = diffrax.ODETerm(lambda t, y, args: op.mv_pair(y))
    sol = diffrax.diffeqsolve(
        term, _method(method, rtol), 0.0, t1, None, _to_real(rho0), saveat=saveat,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol), max_steps=max_steps,
        throw=False)
    saved, y1 = cast(tuple, sol.ys)  # diffrax's Optional: never None with a SaveAt
    success = sol.result == diffrax.RESULTS.successful
    num_steps = sol.stats["num_steps"]
    if spectrum is None:
        ys, checks = saved
        return Trajectory(ts=ts, ys=ys, trace_error=checks[0], hermiticity_error=checks[1],
                          tail_population=checks[2], num_steps=num_steps, success=success,
                          t_switch=t_switch, slow_residual=jnp.zeros(()))
    rho1 = _to_complex(y1[0])
    c, resid = slow_mode_fit(spectrum, rho1 - rho_ss)
    resid = jnp.where(t1 < t_end, resid, 0.0)  # no save time needs the slow modes

    def at(t, y):
        # rho(t): from the ODE up to t1, from the slow modes after; then fn
        # a missing mode (-inf, c = 0) must not make inf * 0 before t1, where this is unused
        lam = jnp.where(jnp.isfinite(spectrum.eigenvalues), spectrum.eigenvalues, -1.0)
        slow = rho_ss + jnp.tensordot(c * jnp.exp(lam * jnp.maximum(t - t1, 0.0)),
                                      spectrum.modes, axes=1)
        rho = jnp.where(t > t1, 0.5 * (slow + jnp.conj(slow).T), _to_complex(y))
        return fn(t, rho), _checks(rho)

    # batches of save times: the observables' transforms of several states become one wider
    # matrix product (1.9x faster for the Kerr terms at nmax = 112 than one state at a time)
    # equal batches (the last save time repeated to fill them): lax.map would compile a
    # remainder batch as a second copy of fn
    T = ts.shape[0]
    nb = -(-T // int(save_batch))
    size = -(-T // nb)
    fill = nb * size - T
    pad = (lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], fill, axis=0)]) if fill else x)
    ys, checks = jax.lax.map(lambda a: at(*a), jax.tree_util.tree_map(pad, (ts, saved)),
                             batch_size=size)
    ys, checks = jax.tree_util.tree_map(lambda x: x[:T], (ys, checks))
    return Trajectory(ts=ts, ys=ys, trace_error=checks[0], hermiticity_error=checks[1],
                      tail_population=checks[2], num_steps=num_steps, success=success,
                      t_switch=t_switch, slow_residual=resid)


def check_trajectory(traj: Trajectory, *, tail_tol: float = TAIL_TOL, state_tol: float = STATE_TOL,
                     slow_tol: float = 1e-8) -> list[str]:
    """Warn for every failed check of a (possibly batched) trajectory and return the messages:
    the ODE ran out of steps; ``|tr rho - 1|`` or the anti-Hermitian part above ``state_tol``;
    Fock-tail population above ``tail_tol`` (raise ``nmax``); slow-mode fit residual above
    ``slow_tol`` (more modes, ``k``, or a smaller ``switch_tol``). Call outside ``jit``."""
    msgs = []
    if not bool(jnp.all(traj.success)):
        msgs.append("the ODE exhausted max_steps before the last save time: raise max_steps, "
                    "loosen rtol, or pass a spectrum for the long times")
    tr, herm = float(jnp.max(traj.trace_error)), float(jnp.max(traj.hermiticity_error))
    if tr > state_tol or herm > state_tol:
        msgs.append(f"trace error {tr:.1e} / anti-Hermitian part {herm:.1e} exceed "
                    f"{state_tol:g}: tighten rtol/atol")
    tail = float(jnp.max(traj.tail_population))
    if tail > tail_tol:
        msgs.append(f"Fock-tail population {tail:.1e} > {tail_tol:g} along the trajectory: "
                    "raise nmax")
    slow = float(jnp.max(traj.slow_residual))
    if slow > slow_tol:
        msgs.append(f"slow-mode fit residual {slow:.1e} > {slow_tol:g}: ask the spectrum for "
                    "more modes (k) or lower switch_tol")
    for m in msgs:
        warnings.warn("evolve: " + m, TruncationWarning if "Fock" in m else UserWarning,
                      stacklevel=2)
    return msgs
