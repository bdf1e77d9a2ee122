"""``jaxent dicke``: Wehrl entropy production of the Gaussianized open Dicke model across the
superradiant transition (GFL20 Fig. 3).

Writes ``DIR/dicke.csv`` (one row per (lam/lam_c, omega0, omega, kappa, gamma); resumable; a
``flags`` column names the failed checks of a row) and ``DIR/dicke_fig3.png``.
``lambda_c = (1/2) sqrt(omega0 (kappa^2 + omega^2)/omega)`` [GFL20, App. C] (see
:mod:`jaxent.models.dicke` for why the main-text formula is wrong). A point exactly at
``lambda_c`` or without a steady state is written flagged (NaN entropy columns) and left out of
the figure; the rest of the sweep is computed.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxent.commands._args import (
    add_sweep_arguments,
    add_values_argument,
    parse_values,
    plural,
    report_sweep,
)

#: Key columns (= ``jaxent.studies.dicke.DICKE_KEY``; repeated here so that building the parser
#: does not import JAX).
DICKE_KEY = ["lam_over_lamc", "omega0", "omega", "kappa", "gamma"]


def add_parser(sub) -> None:
    p = sub.add_parser("dicke", help="open Dicke model entropy production (GFL20 Fig. 3)",
                       description=__doc__)
    add_values_argument(p, "lam-over-lamc", ["0.5:1.5:200"], "couplings lambda/lambda_c")
    add_values_argument(p, "omega0", ["0.005"], "spin frequency omega_0")
    add_values_argument(p, "omega", ["0.01"], "cavity frequency omega")
    add_values_argument(p, "kappa", ["1"], "cavity loss rate, 2 kappa D[a]")
    add_values_argument(p, "gamma", ["1e-3"], "stabilising loss on delta b, 2 gamma D[delta b]")
    p.add_argument("--fit-window", nargs=2, type=float, default=[1e-3, 1e-1], metavar=("LO", "HI"),
                   help="range of |lam - lam_c|/lam_c for the slope fits of panel (d) "
                        "(default 1e-3 1e-1)")
    p.add_argument("--out", required=True, help="output directory (dicke.csv, dicke_fig3.png)")
    add_sweep_arguments(p, params=list(DICKE_KEY), chunk=128)


def _validate(name, values, positive=False):
    if positive and np.any(values <= 0):
        raise argparse.ArgumentTypeError(f"--{name}: values must be > 0, got {values}")
    if np.any(values < 0):
        raise argparse.ArgumentTypeError(f"--{name}: values must be >= 0, got {values}")


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv
    from jaxent.models.dicke import dicke_critical_coupling
    from jaxent.plotting.dicke import plot_dicke_fig3
    from jaxent.plotting.worker import draw
    from jaxent.studies.dicke import DICKE_OUTPUTS, dicke_sweep

    ratios = np.unique(parse_values(args.lam_over_lamc, "lam-over-lamc"))
    grids = {k: np.unique(parse_values(getattr(args, k), k))
             for k in ("omega0", "omega", "kappa", "gamma")}
    _validate("lam-over-lamc", ratios)
    _validate("omega0", grids["omega0"], positive=True)
    _validate("omega", grids["omega"], positive=True)
    _validate("kappa", grids["kappa"])
    _validate("gamma", grids["gamma"])
    lo, hi = args.fit_window
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise argparse.ArgumentTypeError(
            f"--fit-window: needs 0 < LO < HI (a range of |lam - lam_c|/lam_c), got {lo:g} {hi:g}")
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "dicke.csv")
    result = dicke_sweep(ratios, csv_path, chunk=args.chunk, grad=args.grad,
                         recompute_flagged=args.recompute_flagged,
                         progress=not args.no_progress, **grids)
    data = read_csv(csv_path, key=DICKE_KEY)
    n_all = len(data["lam"])
    # figures from the rows with finite physics (flagged critical / no-NESS rows are NaN)
    keep = [i for i in range(n_all)
            if all(np.isfinite(data[k][i]) for k in DICKE_OUTPUTS)]
    fig_data = {k: [v[i] for i in keep] for k, v in data.items() if k != "flags"}
    if keep:
        fig, fits = draw(plot_dicke_fig3, fig_data, os.path.join(args.out, "dicke_fig3.png"),
                         fit_window=tuple(args.fit_window))
    else:
        fig, fits = "no figure (no row with finite values)", {}
    flagged = sum(1 for f in data["flags"] if f)
    resid = np.abs(np.asarray(fig_data["ness_identity_residual"], dtype=float))
    print(f"wrote {csv_path} ({plural(n_all, 'point')}, {flagged} flagged; {len(keep)} in the "
          f"figure) and {fig}")
    if resid.size:
        print(f"max |Pi_U + Pi_d - Phi_q| / Phi_q over the figure's rows: {resid.max():.2e}")
    for (w0, w, k, g), (left, right) in fits.items():
        lc = float(dicke_critical_coupling(w0, w, k))
        print(f"omega0={w0:g} omega={w:g} kappa={k:g} gamma={g:g}: lambda_c={lc:.10g}; slope of "
              f"log10 Pi_d vs log10|lam - lam_c| for |lam - lam_c|/lam_c in [{lo:g}, {hi:g}]: "
              f"below {left.describe()}, above {right.describe()}")
    report_sweep(result, "dicke")
