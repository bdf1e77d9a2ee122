r"""The open Dicke study (GFL20 Fig. 3): point function, checks, sweep.

Data flow: ``(lam_over_lamc, omega0, omega, kappa, gamma)`` -> ``lam = lam_over_lamc * lam_c``
(inside the point, so the user's ratio is the key) -> :func:`~jaxent.models.dicke.dicke_point`
-> one row. Every parameter is traced and no shape depends on them, so a whole sweep compiles
once (per chunk size and ``--grad`` set).

``dPi_U_dlam`` and ``dPi_d_dlam`` (the derivative w.r.t. ``lambda`` at fixed ``omega0, omega,
kappa, gamma``, panel (b) of Fig. 3) are outputs of the point itself, by ``jax.jvp`` in the
``lambda`` direction, so the figure needs no ``--grad``; ``--grad lam_over_lamc`` adds
``dPi_U_dlam_over_lamc = lam_c * dPi_U_dlam`` etc. (and derivatives of every other output).

Failure policy (one for all models, :func:`jaxent.sweep.run_sweep`): a point exactly at
``lambda_c`` (``critical``: NaN entropy columns), without a NESS (``no_ness``: drift not Hurwitz,
e.g. ``gamma = 0`` at ``lam = 0``) or with a NESS identity / Lyapunov residual above
:data:`RESIDUAL_TOL` is written with its flags and a warning saying what to change; the sweep
goes on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jaxent.models.dicke import Dicke, dicke_critical_coupling, dicke_point
from jaxent.sweep import Study, SweepResult, run_sweep

#: Largest ``|ness_identity_residual|`` and ``lyapunov_residual`` of a good row. Both are round-off
#: (~1e-16 .. 1e-10) in an exact Gaussian NESS; 1e-8 is the Lyapunov solver's own default
#: (:func:`jaxent.gaussian.lyapunov.lyapunov_steady_state`) and the old ``dicke`` command's limit.
RESIDUAL_TOL = 1e-8

DICKE_KEY = ["lam_over_lamc", "omega0", "omega", "kappa", "gamma"]
#: Physics columns (differentiable; ``--grad`` adds ``d<column>_d<param>`` for these).
DICKE_OUTPUTS = ("lam", "lam_c", "Pi_U", "dPi_U_dlam", "Pi_d", "dPi_d_dlam", "Phi_q", "Pi_d_a",
                 "n_a_fluct", "n_b_fluct", "alpha_re", "alpha_im", "beta")
#: Branch indicators (0/1) and error control (no gradient columns).
DICKE_DIAGNOSTICS = ("superradiant", "at_critical", "max_re_eig", "ness_identity_residual",
                     "lyapunov_residual")


def _point(p, static):
    w0, w, k, g = p["omega0"], p["omega"], p["kappa"], p["gamma"]
    lam = p["lam_over_lamc"] * dicke_critical_coupling(w0, w, k)
    out, tan = jax.jvp(lambda lm: dicke_point(Dicke(lm, w0, w, k, g)), (lam,),
                       (jnp.ones_like(lam),))
    out = dict(out)
    out["lam"] = lam
    out["dPi_U_dlam"] = tan["Pi_U"]
    out["dPi_d_dlam"] = tan["Pi_d"]
    return out


def _checks(row) -> list[tuple[str, str]]:
    if row["at_critical"] > 0.5:
        return [("critical", "exactly at lambda_c (lam/lam_c = 1), where the normal and "
                             "superradiant branches meet (Pi_U has a kink, Pi_d ~ "
                             "1/|lam - lam_c|): skipped, the entropy columns are NaN; evaluate "
                             "either side (e.g. an even number of --lam-over-lamc points)")]
    if not row["max_re_eig"] < 0:
        return [("no_ness", f"no steady state at this coupling (drift not Hurwitz, max Re eig "
                            f"= {row['max_re_eig']:.2e}): increase --gamma (or --kappa), or "
                            "leave out this lam/lam_c")]
    out = []
    ir, lr = row["ness_identity_residual"], row["lyapunov_residual"]
    if not abs(ir) <= RESIDUAL_TOL:
        out.append(("identity", f"NESS identity Pi_U + Pi_d = Phi_q violated by {ir:.1e} "
                                f"(> {RESIDUAL_TOL:g}): ill-conditioned steady state; move "
                                "lam/lam_c away from 1 or increase --gamma"))
    if not lr <= RESIDUAL_TOL:
        out.append(("lyapunov", f"Lyapunov residual {lr:.1e} > {RESIDUAL_TOL:g}: "
                                "ill-conditioned drift matrix; move lam/lam_c away from 1 or "
                                "increase --gamma"))
    bad = [k for k in DICKE_OUTPUTS if not math.isfinite(row[k])]
    if bad:
        out.append(("nonfinite", f"non-finite {', '.join(bad)}: ill-conditioned point; move "
                                 "lam/lam_c away from 1 or increase --gamma"))
    return out


DICKE_STUDY = Study(
    name="dicke", params=tuple(DICKE_KEY), outputs=DICKE_OUTPUTS,
    diagnostics=DICKE_DIAGNOSTICS, point=_point,
    assign_static=lambda points: [()] * len(points), checks=_checks,
)
#: Every column of ``dicke.csv`` without ``--grad`` (the engine's order).
DICKE_COLUMNS = DICKE_STUDY.columns()


def make_study() -> Study:
    """The Dicke :class:`~jaxent.sweep.Study` (one shared instance, so repeated sweeps reuse
    its compilations)."""
    return DICKE_STUDY


def _values(name, values, positive=False) -> list[float]:
    arr = np.unique(np.atleast_1d(np.asarray(values, dtype=float)))
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite, got {arr.tolist()}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name}: values must be > 0, got {arr[arr <= 0].tolist()}")
    if np.any(arr < 0):
        raise ValueError(f"{name}: values must be >= 0, got {arr[arr < 0].tolist()}")
    return arr.tolist()


def dicke_sweep(lam_over_lamc: ArrayLike, out_csv: str | os.PathLike,
                omega0: ArrayLike = 0.005, omega: ArrayLike = 0.01,
                kappa: ArrayLike = 1.0, gamma: ArrayLike = 1e-3,
                chunk: int = 128, grad: Sequence[str] = (), recompute_flagged: bool = False,
                progress: bool = True) -> SweepResult:
    """Every Fig. 3 quantity on the product ``lam_over_lamc x omega0 x omega x kappa x gamma``
    into ``out_csv`` (resumable; :func:`jaxent.sweep.run_sweep`). ``grad`` adds
    ``d<column>_d<param>`` columns for any of :data:`DICKE_KEY`. Bad input (NaN/inf, negative
    values, non-positive frequencies) raises ``ValueError`` naming the parameter before
    anything is computed; points exactly at ``lambda_c`` or without a NESS are written flagged.
    """
    grids = [_values("lam_over_lamc", lam_over_lamc), _values("omega0", omega0, positive=True),
             _values("omega", omega, positive=True), _values("kappa", kappa),
             _values("gamma", gamma)]
    points = [dict(zip(DICKE_KEY, (r, w0, w, k, g)))
              for w0 in grids[1] for w in grids[2] for k in grids[3] for g in grids[4]
              for r in grids[0]]
    return run_sweep(DICKE_STUDY, points, out_csv, chunk=chunk, grad=grad,
                     recompute_flagged=recompute_flagged, progress=progress)
