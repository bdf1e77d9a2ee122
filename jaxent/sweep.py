"""Batched parameter sweeps of the Kerr NESS entropy production, written to a resumable CSV.

Data flow: :class:`~jaxent.models.kerr.Kerr` -> structured NESS (:func:`kerr_steady_state`) ->
polar Husimi grid -> Wehrl terms (:func:`photon_loss_terms`) -> one CSV row per (N, eps).

Batching: ``nmax`` (and so the grid) sets array shapes and must be static, while ``eps`` is
traced. Points are therefore grouped by size ``N``; each ``N`` gets one ``nmax`` (chosen for the
largest ``eps`` of the sweep and rounded up to a multiple of ``nmax_step`` so that several
sizes share one compilation), and its pump values are evaluated ``chunk`` at a time with
:func:`jax.vmap`. With several devices the chunk is sharded across them along the pump axis
(``jax.sharding``), so the same code runs on one CPU or many GPUs.

Each finished chunk is appended to the CSV (fsync'ed) before the next starts; a re-run with
the same ``--out`` skips every (N, eps, kappa, delta, u) already there.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxent.entropy.wehrl import photon_loss_terms
from jaxent.io import ResumableCSV
from jaxent.models.kerr import Kerr, choose_nmax, kerr_hamiltonian, kerr_steady_state
from jaxent.phase_space.grid import polar_grid

#: Columns other tools read; the names are part of the interface.
KERR_COLUMNS = [
    "N", "eps", "kappa", "delta", "u", "nmax",
    "alpha_re", "alpha_im", "n_photons",
    "S_wehrl", "Phi", "Phi_q", "Pi_ext", "Pi_J", "Pi_d", "Pi_U",
    # error control, so a reader can check every row after the fact
    "ness_identity_residual", "tail_population", "grid_norm_error",
]
KERR_KEY = ["N", "eps", "kappa", "delta", "u"]

# Tolerances behind the warnings of the sweep (see `_check_row`).
TAIL_TOL = 1e-10
GRID_NORM_TOL = 1e-9
IDENTITY_TOL = 1e-6


def kerr_point(model: Kerr, nmax: int, grid) -> dict[str, jax.Array]:
    """Every Wehrl entropy term of the Kerr NESS at one parameter point.

    Returns a dict of scalars named as :data:`KERR_COLUMNS` (except the parameters).
    ``alpha = <a>/sqrt(N)`` [GFL20, below Eq. (2)]; the terms follow [GFL20, Eqs. (5)-(8)].
    ``ness_identity_residual`` is ``(Pi_U + Pi_J - Phi)/Phi``, which vanishes in an exact
    NESS [GFL20, Eq. (10)]: a free end-to-end check of solver, truncation and grid.
    Differentiable in every field of ``model``.
    """
    ss = kerr_steady_state(model, nmax)
    H = kerr_hamiltonian(model, nmax)
    t = photon_loss_terms(ss.rho, H, model.kappa, grid)
    alpha = t.alpha / jnp.sqrt(model.N)
    return {
        "alpha_re": jnp.real(alpha),
        "alpha_im": jnp.imag(alpha),
        "n_photons": t.n_photons,
        "S_wehrl": t.S_wehrl,
        "Phi": t.Phi,
        "Phi_q": t.Phi_q,
        "Pi_ext": t.Pi_ext,
        "Pi_J": t.Pi_J,
        "Pi_d": t.Pi_d,
        "Pi_U": t.Pi_U,
        "ness_identity_residual": (t.Pi_U + t.Pi_J - t.Phi) / t.Phi,
        "tail_population": ss.tail_population,
        "grid_norm_error": t.norm_error,
    }


@eqx.filter_jit
def _kerr_batch(eps, N, kappa, delta, u, nmax: int, grid):
    def one(e):
        return kerr_point(Kerr(eps=e, N=N, kappa=kappa, delta=delta, u=u), nmax, grid)

    return jax.vmap(one)(eps)


def _shard(x: jax.Array) -> jax.Array:
    """Spread a batch over all devices along its first axis (no-op on one device)."""
    devices = jax.devices()
    if len(devices) == 1:
        return x
    mesh = jax.sharding.Mesh(np.array(devices), ("points",))
    return jax.device_put(x, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("points")))


def nmax_for_size(N: float, eps_max: float, kappa: float, delta: float, u: float,
                  nmax_step: int = 16) -> int:
    """Truncation for a whole sweep at size ``N``: :func:`choose_nmax` at the largest pump,
    rounded up to a multiple of ``nmax_step`` (fewer distinct shapes -> fewer compilations)."""
    n = choose_nmax(Kerr(eps=eps_max, N=N, kappa=kappa, delta=delta, u=u))
    return int(nmax_step * math.ceil(n / nmax_step))


def _check_row(row: dict) -> list[str]:
    problems = []
    if not (row["tail_population"] <= TAIL_TOL):
        problems.append(f"Fock tail population {row['tail_population']:.1e} > {TAIL_TOL:g} "
                        f"(raise nmax above {row['nmax']})")
    if not (abs(row["grid_norm_error"]) <= GRID_NORM_TOL):
        problems.append(f"Husimi grid normalisation error {row['grid_norm_error']:.1e} > "
                        f"{GRID_NORM_TOL:g} (enlarge the phase-space grid)")
    if not (abs(row["ness_identity_residual"]) <= IDENTITY_TOL):
        problems.append(f"NESS identity residual {row['ness_identity_residual']:.1e} > "
                        f"{IDENTITY_TOL:g} (steady state or grid not converged)")
    return problems


def kerr_sweep(N_values: Sequence[float], eps_values: Sequence[float], out_csv: str | os.PathLike,
               kappa: float = 0.5, delta: float = -2.0, u: float = 1.0, chunk: int = 8,
               nmax_step: int = 16, progress: bool = True) -> str:
    """Compute every Kerr NESS entropy term on the grid ``N_values x eps_values``.

    Rows are appended to ``out_csv`` as each chunk of pump values finishes; points already in
    the file are skipped, so an interrupted sweep resumes where it stopped. Rows that fail an
    error-control check (Fock tail, grid normalisation, NESS identity) are still written, with a
    warning that says what to change. Returns the CSV path.
    """
    N_values = [float(n) for n in N_values]
    eps_values = np.asarray(eps_values, dtype=float)
    for name, val in (("kappa", kappa), ("delta", delta), ("u", u)):
        if not math.isfinite(val):
            raise ValueError(f"{name} must be finite, got {val}")
    if not kappa > 0:
        raise ValueError(f"kappa must be positive, got {kappa}")
    if not all(math.isfinite(n) and n > 0 for n in N_values):
        raise ValueError(f"N must be positive and finite, got {N_values}")
    if eps_values.size == 0 or not np.all(np.isfinite(eps_values)) or np.any(eps_values < 0):
        raise ValueError(f"eps must be finite and non-negative, got {eps_values}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    ndev = len(jax.devices())
    chunk = ndev * math.ceil(chunk / ndev)

    writer = ResumableCSV(out_csv, KERR_COLUMNS, key=KERR_KEY)
    todo = {N: [e for e in eps_values
                if not writer.is_done(N=N, eps=e, kappa=kappa, delta=delta, u=u)]
            for N in N_values}
    total = sum(len(v) for v in todo.values())
    bar = tqdm(total=total, disable=not progress, unit="pt", desc="kerr sweep")
    for N, eps_list in todo.items():
        if not eps_list:
            continue
        nmax = nmax_for_size(N, float(np.max(eps_values)), kappa, delta, u, nmax_step)
        grid = polar_grid(nmax)
        bar.set_postfix(N=f"{N:g}", nmax=nmax)
        for start in range(0, len(eps_list), chunk):
            part = eps_list[start:start + chunk]
            # Pad to a fixed chunk so every call reuses one compilation.
            padded = np.asarray(part + [part[-1]] * (chunk - len(part)))
            res = _kerr_batch(_shard(jnp.asarray(padded)), N, kappa, delta, u, nmax, grid)
            res = {k: np.asarray(v) for k, v in res.items()}
            rows = []
            for i, e in enumerate(part):
                row = {"N": N, "eps": float(e), "kappa": kappa, "delta": delta, "u": u,
                       "nmax": nmax}
                row.update({k: float(v[i]) for k, v in res.items()})
                for msg in _check_row(row):
                    warnings.warn(f"N={N:g}, eps={e:.6g}: {msg}", RuntimeWarning, stacklevel=2)
                rows.append(row)
            writer.append(rows)
            bar.update(len(part))
    bar.close()
    return os.fspath(out_csv)
