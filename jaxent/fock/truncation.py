"""Fock-space truncation control.

A truncated steady state is trustworthy only if the population it puts in the top Fock levels is
negligible: truncation acts like a hard wall at ``n = nmax - 1``, so population that reaches it is
reflected and every moment is biased. :func:`tail_population` measures it (traceable, it is part of
every :class:`~jaxent.lindblad.steady_state.SteadyState`), :func:`check_truncation` turns it into a
warning or an error with a suggested ``nmax`` (eager, at the Python boundary).
"""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import numpy as np

from jaxent.tolerances import TAIL_TOL  # noqa: E402,F401 - the default tolerance, re-exported


class TruncationWarning(UserWarning):
    """The Fock truncation ``nmax`` is too small for the requested tolerance."""


def tail_levels(nmax: int) -> int:
    """Number of top Fock levels whose population is monitored: the last 5 %, at least 2
    (at least 1 when ``nmax <= 2``). Static (a Python int)."""
    return max(min(2, nmax - 1), 1, int(math.ceil(0.05 * nmax)))


def tail_population(populations: jnp.ndarray) -> jnp.ndarray:
    """Total population of the top :func:`tail_levels` Fock states (``populations = diag(rho)``,
    real). jit/vmap-able."""
    nmax = populations.shape[-1]
    return jnp.sum(jnp.real(populations[..., nmax - tail_levels(nmax):]), axis=-1)


def suggest_nmax(populations, nmax: int | None = None) -> int:
    """A larger truncation for a state whose tail is too heavy (eager helper).

    Uses the mean and spread of the (truncated) photon distribution, ``<n> + 12 std + 10``,
    and never less than ``1.25 nmax``; the result must be re-checked with the tail test.
    """
    p = np.clip(np.real(np.asarray(populations)), 0.0, None)
    nmax = int(p.shape[-1]) if nmax is None else nmax
    p = p / max(p.sum(), 1e-300)
    k = np.arange(p.shape[-1])
    mean = float(p @ k)
    std = float(np.sqrt(max(p @ k**2 - mean**2, 0.0)))
    return int(max(math.ceil(1.25 * nmax), math.ceil(mean + 12.0 * std + 10.0)))


def check_truncation(state, tol: float = TAIL_TOL, action: str = "warn") -> bool:
    """Check the Fock tail of a steady state (a ``SteadyState`` or a density matrix).

    **Arguments:** ``state``; ``tol`` on the top-level population (:func:`tail_population`);
    ``action``: ``"warn"`` (a :class:`TruncationWarning`), ``"raise"`` (``ValueError``) or
    ``"ignore"``. Batched states (leading axes) are checked point by point.

    **Returns:** ``True`` when every tail is below ``tol``. Must be called outside ``jit``.
    """
    if action not in ("warn", "raise", "ignore"):
        raise ValueError(f"action must be 'warn', 'raise' or 'ignore', got {action!r}")
    rho = getattr(state, "rho", state)
    pops = np.real(np.diagonal(np.asarray(rho), axis1=-2, axis2=-1))
    nmax = pops.shape[-1]
    tails = np.real(np.asarray(tail_population(jnp.asarray(pops))))
    worst = float(np.max(np.where(np.isfinite(tails), tails, np.inf)))
    ok = worst <= tol
    if not ok and action != "ignore":
        idx = np.unravel_index(int(np.argmax(np.where(np.isfinite(tails), tails, np.inf))),
                               tails.shape) if tails.ndim else ()
        suggestion = suggest_nmax(pops[idx], nmax)
        msg = (f"Fock truncation too small: population {worst:.2e} in the top "
               f"{tail_levels(nmax)} of nmax={nmax} levels exceeds tol={tol:g}; "
               f"increase nmax (try nmax={suggestion}).")
        if action == "raise":
            raise ValueError(msg)
        warnings.warn(msg, TruncationWarning, stacklevel=2)
    return ok
