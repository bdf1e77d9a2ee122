r"""The coupled-oscillator study (KL Figs. 2-6): point function, checks, sweep.

Data flow: ``(lam_over_lamc, T1, T2, omega1, omega2, gamma1, gamma2)`` and the labels
``(coupling, method)`` -> :class:`~jaxent.models.oscillators.CoupledOscillators` ->
:func:`~jaxent.models.oscillators.oscillator_point` (local / global master equation, exact
Langevin solution or Gibbs state) -> one row.

The labels are static (they choose the code path), so a sweep compiles once per
``(coupling, method)`` pair in it (at most 8), whatever the parameter values.

Diagnostic: ``min_symplectic_eig``, the smallest symplectic eigenvalue ``nu_min`` of the
steady-state covariance; a physical Gaussian state has ``nu_min >= 1/2`` (uncertainty
principle). Failure policy (:func:`jaxent.sweep.run_sweep`): a row without a finite steady
state (``nonfinite``: drift not Hurwitz, NaN covariance) or violating the uncertainty principle
(``unphysical``) is written with its flags and a warning; the sweep goes on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jaxent.models.oscillators import (
    COUPLINGS,
    METHODS,
    CoupledOscillators,
    oscillator_point,
    oscillator_steady_state,
)
from jaxent.sweep import Study, SweepResult, run_sweep

#: ``nu_min`` may fall below 1/2 by this much (relative) before a row is flagged ``unphysical``
#: (round-off of the Lyapunov / Langevin solution is ~1e-12 relative).
UNCERTAINTY_TOL = 1e-9

OSC_PARAMS = ("lam_over_lamc", "T1", "T2", "omega1", "omega2", "gamma1", "gamma2")
OSC_LABELS = ("coupling", "method")
OSC_KEY = list(OSC_PARAMS) + list(OSC_LABELS)
OSC_OUTPUTS = ("lam", "omega_minus", "omega_plus", "n1", "n2", "mutual_info")
OSC_DIAGNOSTICS = ("min_symplectic_eig",)


def _model(p, coupling):
    return CoupledOscillators(p["lam_over_lamc"], omega1=p["omega1"], omega2=p["omega2"],
                              gamma1=p["gamma1"], gamma2=p["gamma2"], T1=p["T1"], T2=p["T2"],
                              coupling=coupling)


def _point(p, static):
    coupling, method = static
    model = _model(p, coupling)
    out = dict(oscillator_point(model, method))
    # the same covariance again (XLA shares the computation), for the physicality check
    sigma = jax.lax.stop_gradient(oscillator_steady_state(model, method))
    out["min_symplectic_eig"] = smaller_symplectic_eigenvalue(sigma)
    return out


def smaller_symplectic_eigenvalue(sigma):
    """``nu_-`` of a two-mode covariance from its invariants [KL, App. B]:
    ``nu_-^2 = (Delta - sqrt(Delta^2 - 4 det sigma))/2``, ``Delta = det alpha + det beta +
    2 det gamma`` (no Cholesky, so an unphysical sigma gives a number, not NaN)."""
    al, be, ga = sigma[:2, :2], sigma[2:, 2:], sigma[:2, 2:]
    delta = jnp.linalg.det(al) + jnp.linalg.det(be) + 2 * jnp.linalg.det(ga)
    disc = jnp.sqrt(jnp.maximum(delta**2 - 4 * jnp.linalg.det(sigma), 0.0))
    return jnp.sqrt(jnp.maximum(delta - disc, 0.0) / 2)


def _checks(row) -> list[tuple[str, str]]:
    bad = [k for k in OSC_OUTPUTS if not math.isfinite(row[k])]
    if bad:
        return [("nonfinite", f"no finite {row['method']} steady state (non-finite "
                              f"{', '.join(bad)}; drift not Hurwitz): increase --gamma1/--gamma2 "
                              "or move --lam-over-lamc away from 1")]
    nu = row["min_symplectic_eig"]
    if not nu >= 0.5 * (1 - UNCERTAINTY_TOL):
        return [("unphysical", f"the {row['method']} steady state violates the uncertainty "
                               f"principle (smallest symplectic eigenvalue {nu:.6g} < 1/2): "
                               "the approximation fails at this coupling; compare with "
                               "method=langevin or move --lam-over-lamc away from 1")]
    return []


OSC_STUDY = Study(
    name="oscillators", params=OSC_PARAMS, labels=OSC_LABELS, outputs=OSC_OUTPUTS,
    diagnostics=OSC_DIAGNOSTICS, point=_point,
    assign_static=lambda points: [(p["coupling"], p["method"]) for p in points],
    checks=_checks, describe=lambda st: f"{st[0]} {st[1]}",
)
#: Every column of ``oscillators.csv`` without ``--grad`` (the engine's order).
OSC_COLUMNS = OSC_STUDY.columns()


def make_study() -> Study:
    """The oscillator :class:`~jaxent.sweep.Study` (one shared instance, so repeated sweeps
    reuse its compilations)."""
    return OSC_STUDY


def methods_for(T1: float, T2: float) -> list[str]:
    """The methods computed at a temperature pair: local, global, Langevin, and Gibbs when
    ``T1 == T2``."""
    return ["local", "global", "langevin"] + (["gibbs"] if T1 == T2 else [])


def oscillators_sweep(lam_over_lamc: ArrayLike, pairs: Sequence[tuple[float, float]],
                      out_csv: str | os.PathLike, couplings: Sequence[str] = COUPLINGS,
                      omega1: float = 5.0, omega2: float = 2.0, gamma1: float = 1.5e-4,
                      gamma2: float = 1.5e-4, methods: Sequence[str] | None = None,
                      chunk: int = 64, grad: Sequence[str] = (), recompute_flagged: bool = False,
                      progress: bool = True) -> SweepResult:
    """Every method at every ``(coupling, lam_over_lamc, (T1, T2))`` into ``out_csv``
    (resumable; :func:`jaxent.sweep.run_sweep`). ``methods`` defaults to :func:`methods_for`
    of each pair (Gibbs only where ``T1 == T2``); ``grad`` adds ``d<column>_d<param>`` columns
    for any of :data:`OSC_PARAMS`. Bad input raises ``ValueError`` naming the parameter before
    anything is computed."""
    lams = np.unique(np.atleast_1d(np.asarray(lam_over_lamc, dtype=float)))
    if lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0) or np.any(lams >= 1):
        raise ValueError(f"lam_over_lamc: values must lie in [0, 1) (at or beyond lambda_c the "
                         f"Hamiltonian is not bounded below), got {lams.tolist()}")
    for name, v in (("omega1", omega1), ("omega2", omega2), ("gamma1", gamma1),
                    ("gamma2", gamma2)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name}: must be finite and > 0, got {v}")
    pairs = [(float(a), float(b)) for a, b in pairs]
    bad = [p for p in pairs if not all(math.isfinite(t) and t > 0 for t in p)]
    if bad:
        raise ValueError(f"T1/T2: temperatures must be finite and > 0, got pairs {bad}")
    for c in couplings:
        if c not in COUPLINGS:
            raise ValueError(f"coupling: expected one of {COUPLINGS}, got {c!r}")
    for m in methods or ():
        if m not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {m!r}")
    points = []
    for c in couplings:
        for T1, T2 in pairs:
            for m in (methods_for(T1, T2) if methods is None else methods):
                if m == "gibbs" and T1 != T2:
                    raise ValueError(f"method: the Gibbs state needs T1 == T2, got T1={T1:g}, "
                                     f"T2={T2:g}")
                for r in lams:
                    points.append(dict(lam_over_lamc=float(r), T1=T1, T2=T2, omega1=float(omega1),
                                       omega2=float(omega2), gamma1=float(gamma1),
                                       gamma2=float(gamma2), coupling=c, method=m))
    return run_sweep(OSC_STUDY, points, out_csv, chunk=chunk, grad=grad,
                     recompute_flagged=recompute_flagged, progress=progress)
