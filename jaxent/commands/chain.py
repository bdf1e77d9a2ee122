"""``jaxent chain``: Wigner entropy production of a harmonic chain with self-consistent
reservoirs over sizes and parameters (MSCPL19 Figs. 2-3).

Writes ``OUT/chain.csv`` (one row per point of the Cartesian product of all flags; resumes by
key) and ``OUT/chain_fig2.png``, ``OUT/chain_fig3.png``.
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

from jaxent.commands._args import add_values_argument, parse_values

CHAIN_KEY = ["L", "gamma", "Gamma", "lam", "n1", "nL"]
#: CSV columns (names are part of the interface). ``closed_form_residual`` is the largest
#: relative deviation of occupations, coherence, current and Pi_NESS from MSCPL19 Eqs.
#: (29a)-(31); ``identity_residual`` = |Pi_r + Pi_sc - Pi_NESS| / Pi_NESS.
CHAIN_COLUMNS = CHAIN_KEY + [
    "current", "Pi_NESS", "Pi_r", "Pi_sc", "Phi_1", "Phi_L", "N_1", "N_L",
    "residual", "offband_residual", "identity_residual", "closed_form_residual",
]
#: Tolerances behind the warnings: a row beyond them is still written but flagged.
RESIDUAL_TOL = 1e-9


def add_parser(sub) -> None:
    p = sub.add_parser("chain", help="harmonic chain with self-consistent reservoirs "
                       "(MSCPL19 Figs. 2-3)", description=__doc__)
    add_values_argument(p, "L", ["2", "5", "10", "20", "40", "80", "160"],
                        "chain lengths L (integers >= 2)")
    add_values_argument(p, "gamma", ["1e-6"], "physical bath rate gamma (sites 1 and L)")
    add_values_argument(p, "Gamma", ["1e-7"], "self-consistent reservoir rate Gamma")
    add_values_argument(p, "lam", ["3e-7"], "nearest-neighbour coupling lambda")
    add_values_argument(p, "n1", ["1"], "occupation n_1 of the bath on site 1")
    add_values_argument(p, "nL", ["2"], "occupation n_L of the bath on site L")
    p.add_argument("--extend-to", type=int, default=10_000,
                   help="continue the Fig. 3 curves to this L (default 10000; 0 to skip)")
    p.add_argument("--no-figures", action="store_true", help="write the CSV only")
    p.add_argument("--out", required=True, help="output directory (chain.csv, chain_fig*.png)")


def _parse_sizes(tokens) -> np.ndarray:
    L = parse_values(tokens, "L")
    if np.any(L != np.round(L)) or np.any(L < 2):
        raise ValueError(f"--L: chain lengths must be integers >= 2, got {L.tolist()}")
    return np.unique(L.astype(int))


def sweep(L_values, gammas, Gammas, lams, n1s, nLs, csv_path, chunk: int = 256) -> int:
    """Compute every point of the product not yet in ``csv_path`` and append it.

    Parameters are validated eagerly (``ValueError`` naming the parameter) before anything is
    computed; all missing points (sizes included) are evaluated in one ``jit(vmap(...))``.
    Returns the number of rows written. Raises ``ValueError`` rather than writing a
    non-finite number.
    """
    import warnings

    from jaxent.io import ResumableCSV
    from jaxent.models.chain import _validate, chain_points

    gammas, Gammas, lams, n1s, nLs = (np.asarray(v, dtype=float)
                                      for v in (gammas, Gammas, lams, n1s, nLs))
    for L in L_values:
        _validate(int(L), gammas, Gammas, lams, n1s, nLs, 1.0)
    csv = ResumableCSV(csv_path, CHAIN_COLUMNS, CHAIN_KEY)
    combos = list(itertools.product(gammas, Gammas, lams, n1s, nLs))

    todo = sorted((int(L),) + tuple(float(v) for v in c) for L in L_values for c in combos
                  if not csv.is_done(**dict(zip(CHAIN_KEY, (int(L),) + tuple(c)))))
    written = 0
    # chunks sorted by L bound the memory (chunk x max L) and keep the padding small; every
    # chunk is appended (fsync'ed) before the next one starts
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        arr = np.asarray(part, dtype=float)
        res = chain_points(arr[:, 0].astype(int), *(arr[:, i] for i in range(1, 6)))
        bad = [k for k, v in res.items() if not np.all(np.isfinite(v))]
        if bad:
            raise ValueError(f"non-finite {bad} in the chain sweep (check gamma > 0, lam != 0)")
        rows = []
        for i, point in enumerate(part):
            row = dict(zip(CHAIN_KEY, point))
            row.update({k: float(v[i]) for k, v in res.items()})
            for k in ("residual", "offband_residual", "identity_residual",
                      "closed_form_residual"):
                if row[k] > RESIDUAL_TOL:
                    warnings.warn(f"chain {point}: {k} = {row[k]:.2e} exceeds "
                                  f"{RESIDUAL_TOL:g}", stacklevel=2)
            rows.append(row)
        csv.append(rows)
        written += len(rows)
    return written


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv

    L_values = _parse_sizes(args.L)
    vals = {k: np.unique(parse_values(getattr(args, k), k))
            for k in ("gamma", "Gamma", "lam", "n1", "nL")}
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "chain.csv")
    n = sweep(L_values, vals["gamma"], vals["Gamma"], vals["lam"], vals["n1"], vals["nL"],
              csv_path)
    data = read_csv(csv_path)
    # the file may hold other sweeps (resume is by full key): keep this one's points
    want = {k: set(np.round(v, 12).tolist()) for k, v in vals.items()}
    want["L"] = set(L_values.tolist())
    keep = [i for i in range(len(data["L"]))
            if all(round(float(data[k][i]), 12) in want[k] for k in CHAIN_KEY)]
    data = {k: [v[i] for i in keep] for k, v in data.items()}
    print(f"wrote {n} new rows to {csv_path} ({len(keep)} rows for these flags)")
    for k in ("identity_residual", "closed_form_residual", "offband_residual", "residual"):
        print(f"max {k}: {max(data[k]):.2e}")
    if args.no_figures:
        return
    from jaxent.plotting.chain import plot_chain_fig2, plot_chain_fig3

    f2 = plot_chain_fig2(os.path.join(args.out, "chain_fig2.png"), n1=float(vals["n1"][0]),
                         nL=float(vals["nL"][0]))
    f3, fits = plot_chain_fig3(data, os.path.join(args.out, "chain_fig3.png"),
                               extend_to=args.extend_to)
    print(f"figures: {f2}, {f3}")
    for fit in fits:
        msg = (f"gamma={fit['gamma']:g} Gamma={fit['Gamma']:g} lam={fit['lam']:g} "
               f"n1={fit['n1']:g} nL={fit['nL']:g}:")
        if "exp_r" in fit:
            msg += (f" exponents over L in [{fit['L_fit'][0]:g}, {fit['L_fit'][1]:g}]: "
                    f"Pi_r {fit['exp_r']:.3f}, Pi_sc {fit['exp_sc']:.3f}")
        if "exp_r_asym" in fit:
            msg += (f"; over L in [{fit['L_asym'][0]}, {fit['L_asym'][1]}]: "
                    f"Pi_r {fit['exp_r_asym']:.3f}, Pi_sc {fit['exp_sc_asym']:.3f}")
        print(msg)
