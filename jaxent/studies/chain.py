r"""The harmonic-chain study (MSCPL19 Figs. 2-3): point function, padding, checks, sweep.

Data flow: ``(L, gamma, Gamma, lam, n1, nL)`` -> :class:`~jaxent.models.chain.Chain` padded to a
static size -> :func:`~jaxent.models.chain.chain_point_padded` (O(L) block-Thomas NESS, exact
entropy split, closed-form residuals) -> one row.

The length ``L`` is a traced parameter like the others; only the padding size is static: every
point of a sweep is padded to :func:`padded_size` of the sweep's largest ``L`` (the next power of
two, at least :data:`MIN_SIZE`), so a sweep over sizes compiles once, and later sweeps whose
largest ``L`` rounds to the same power of two reuse that compilation. Inert padding sites change
no number (``jaxent.models.chain._ness_padded``); they cost O(padded size) per point, which is
far cheaper than one compilation per size (~2 s each on a 2-core CPU).

``L`` is an integer, so it is not a ``--grad`` parameter (its derivative would be 0).
Failure policy (:func:`jaxent.sweep.run_sweep`): a row whose solver, tridiagonality, NESS
identity or closed-form residual exceeds :data:`RESIDUAL_TOL` is written with its flags and a
warning; the sweep goes on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from jaxent.models.chain import Chain, chain_point_padded, validate_chain
from jaxent.resources import available_memory_bytes, fits_in_memory, format_bytes
from jaxent.sweep import Study, SweepResult, run_sweep

#: Largest residual of a good row (solver rows, distance-2 rows, NESS identity, closed forms of
#: MSCPL19 Eqs. (29a)-(31)); all are ~1e-13 or less in an exact NESS (the old ``chain``
#: command's limit).
RESIDUAL_TOL = 1e-9
#: Smallest padding size.
MIN_SIZE = 8
#: Bytes per site and point of one chunk (working arrays of the solver, entropy and closed
#: forms, with room for forward-mode tangents), for the memory preflight.
BYTES_PER_SITE = 1024

CHAIN_KEY = ["L", "gamma", "Gamma", "lam", "n1", "nL"]
CHAIN_OUTPUTS = ("current", "Pi_NESS", "Pi_r", "Pi_sc", "Phi_1", "Phi_L", "N_1", "N_L")
#: ``closed_form_residual`` is the largest relative deviation of occupations, coherence, current
#: and Pi_NESS from MSCPL19 Eqs. (29a)-(31); ``ness_identity_residual`` =
#: |Pi_r + Pi_sc - Pi_NESS| / Pi_NESS.
CHAIN_DIAGNOSTICS = ("residual", "offband_residual", "ness_identity_residual",
                     "closed_form_residual")
#: Parameters ``--grad`` accepts (``L`` is an integer).
CHAIN_GRAD_PARAMS = ("gamma", "Gamma", "lam", "n1", "nL")

_WHAT = {
    "residual": "the solver's rows are not satisfied",
    "offband_residual": "the NESS is not tridiagonal (distance-2 rows)",
    "ness_identity_residual": "Pi_r + Pi_sc != Pi_NESS",
    "closed_form_residual": "the NESS differs from the closed forms MSCPL19 Eqs. (29a)-(31)",
}


def padded_size(L) -> int:
    """Static array size for a chain of ``L`` sites: the next power of two >= ``L``, at least
    :data:`MIN_SIZE`."""
    return max(MIN_SIZE, 1 << (int(L) - 1).bit_length())


def _assign_static(points):
    size = padded_size(max(p["L"] for p in points))
    return [(size,)] * len(points)


def _preflight(static, chunk):
    need = BYTES_PER_SITE * static[0] * chunk
    if not fits_in_memory(need):
        raise MemoryError(
            f"chains padded to {static[0]} sites need about {format_bytes(need)} for a chunk of "
            f"{chunk} points but {format_bytes(available_memory_bytes())} is available; use a "
            "smaller --chunk or --L")


def _point(p, static):
    (size,) = static
    chain = Chain(size, p["gamma"], p["Gamma"], p["lam"], p["n1"], p["nL"])
    return chain_point_padded(chain, p["L"])


def _checks(row) -> list[tuple[str, str]]:
    out = []
    for k in CHAIN_DIAGNOSTICS:
        if not row[k] <= RESIDUAL_TOL:
            out.append((k.removesuffix("_residual"),
                        f"{k} = {row[k]:.1e} > {RESIDUAL_TOL:g} ({_WHAT[k]}): the NESS equations "
                        "are ill-conditioned here; use rates of similar size (gamma, Gamma, "
                        "lam within a few decades of each other) or a smaller --L"))
    bad = [k for k in CHAIN_OUTPUTS if not math.isfinite(row[k])]
    if bad:
        out.append(("nonfinite", f"non-finite {', '.join(bad)}: singular NESS equations; "
                                 "check gamma > 0 and lam != 0"))
    return out


CHAIN_STUDY = Study(
    name="chain", params=tuple(CHAIN_KEY), outputs=CHAIN_OUTPUTS, diagnostics=CHAIN_DIAGNOSTICS,
    point=_point, assign_static=_assign_static, checks=_checks, preflight=_preflight,
    describe=lambda st: f"padded to {st[0]} sites",
)
#: Every column of ``chain.csv`` without ``--grad`` (the engine's order).
CHAIN_COLUMNS = CHAIN_STUDY.columns()


def make_study() -> Study:
    """The chain :class:`~jaxent.sweep.Study` (one shared instance, so repeated sweeps reuse
    its compilations)."""
    return CHAIN_STUDY


def chain_sweep(L_values: ArrayLike, gamma: ArrayLike, Gamma: ArrayLike,
                lam: ArrayLike, n1: ArrayLike, nL: ArrayLike,
                out_csv: str | os.PathLike, chunk: int = 64, grad: Sequence[str] = (),
                recompute_flagged: bool = False, progress: bool = True) -> SweepResult:
    """Every point of the product ``L x gamma x Gamma x lam x n1 x nL`` into ``out_csv``
    (resumable; :func:`jaxent.sweep.run_sweep`). ``grad`` adds ``d<column>_d<param>`` columns
    for any of :data:`CHAIN_GRAD_PARAMS`. Bad input raises ``ValueError`` naming the
    parameter before anything is computed."""
    L = np.atleast_1d(np.asarray(L_values))
    if L.size == 0 or not np.all(np.isfinite(L.astype(float))) or np.any(L != np.round(L)) \
            or np.any(L < 2):
        raise ValueError(f"L: chain lengths must be integers >= 2, got {L.tolist()}")
    vals = [np.unique(np.atleast_1d(np.asarray(v, dtype=float)))
            for v in (gamma, Gamma, lam, n1, nL)]
    validate_chain(2, vals[0], vals[1], vals[2], vals[3], vals[4], 1.0)
    if "L" in grad:
        raise ValueError("--grad: L is an integer (the chain length) and has no derivative; "
                         f"choose from {list(CHAIN_GRAD_PARAMS)}")
    sizes = sorted({int(x) for x in L})
    points = [dict(zip(CHAIN_KEY, (float(Li), float(g), float(G), float(la), float(a), float(b))))
              for Li in sizes for g in vals[0] for G in vals[1] for la in vals[2]
              for a in vals[3] for b in vals[4]]
    return run_sweep(CHAIN_STUDY, points, out_csv, chunk=chunk, grad=grad,
                     recompute_flagged=recompute_flagged, progress=progress)
