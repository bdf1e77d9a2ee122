"""``jaxent chain``: Wigner entropy production of a harmonic chain with self-consistent
reservoirs over sizes and parameters (MSCPL19 Figs. 2-3).

Writes ``OUT/chain.csv`` (one row per point of the Cartesian product of all flags; resumes by
key; a ``flags`` column names the failed checks of a row) and ``OUT/chain_fig2.png``,
``OUT/chain_fig3.png``.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxent.commands._args import (
    add_sweep_arguments,
    add_values_argument,
    parse_values,
    report_sweep,
)

#: Key columns (= ``jaxent.studies.chain.CHAIN_KEY``; repeated here so that building the parser
#: does not import JAX). ``L`` is an integer, so ``--grad`` takes the others.
CHAIN_KEY = ["L", "gamma", "Gamma", "lam", "n1", "nL"]


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
    add_sweep_arguments(p, params=CHAIN_KEY[1:], chunk=64)


def _parse_sizes(tokens) -> np.ndarray:
    L = parse_values(tokens, "L")
    if np.any(L != np.round(L)) or np.any(L < 2):
        raise ValueError(f"--L: chain lengths must be integers >= 2, got {L.tolist()}")
    return np.unique(L.astype(int))


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv, select_rows
    from jaxent.studies.chain import CHAIN_DIAGNOSTICS, chain_sweep

    L_values = _parse_sizes(args.L)
    vals = {k: np.unique(parse_values(getattr(args, k), k))
            for k in ("gamma", "Gamma", "lam", "n1", "nL")}
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "chain.csv")
    result = chain_sweep(L_values, vals["gamma"], vals["Gamma"], vals["lam"], vals["n1"],
                         vals["nL"], csv_path, chunk=args.chunk, grad=args.grad,
                         recompute_flagged=args.recompute_flagged, progress=not args.no_progress)
    data = read_csv(csv_path, key=CHAIN_KEY)
    data = select_rows(data, L=L_values, **vals)  # the file may hold other sweeps
    flagged = sum(1 for f in data["flags"] if f)
    n_rows = len(data["flags"])
    print(f"wrote {result.computed} new rows to {csv_path} ({n_rows} rows for these flags, "
          f"{flagged} flagged)")
    for k in CHAIN_DIAGNOSTICS[::-1]:
        vals_k = np.asarray(data[k], float)  # NaN propagates: a failed row is not hidden
        print(f"max {k}: {vals_k.max():.2e}" if vals_k.size else f"max {k}: no rows")
    report_sweep(result, "chain")
    if args.no_figures:
        return
    if flagged == n_rows:
        print("no figures: every row of this sweep is flagged (see the warnings)")
        return
    from jaxent.plotting.chain import plot_chain_fig2, plot_chain_fig3

    f2 = plot_chain_fig2(os.path.join(args.out, "chain_fig2.png"), n1=float(vals["n1"][0]),
                         nL=float(vals["nL"][0]))
    f3, fits = plot_chain_fig3(data, os.path.join(args.out, "chain_fig3.png"),
                               extend_to=args.extend_to)
    print(f"figures: {f2} (MSCPL19 Fig. 2 at its caption's gamma, Gamma, lambda; --n1/--nL "
          f"apply), {f3} (this sweep)")
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
