"""``jaxent spectrum``: the Liouvillian gap and slowest eigenvalues of the Kerr model over
pumps x sizes (GFL-quench Fig. 3), by shift-invert Arnoldi on the banded factorisation."""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxent.commands._args import add_values_argument, parse_values, positive_int, report_sweep

DEFAULT_N = ["5", "10", "20"]
DEFAULT_EPS = ["0.5:1.3:81"]


def add_parser(sub) -> None:
    p = sub.add_parser("spectrum", help="Kerr Liouvillian gap vs pump (GFL-quench Fig. 3)",
                       description=__doc__)
    add_values_argument(p, "N", DEFAULT_N, "system sizes N")
    add_values_argument(p, "eps", DEFAULT_EPS, "pump values eps")
    p.add_argument("--k", type=positive_int, default=4,
                   help="eigenvalues per point (lambda_1 .. lambda_k)")
    p.add_argument("--kappa", type=float, default=0.5, help="loss rate, 2 kappa D[a]")
    p.add_argument("--delta", type=float, default=-2.0, help="detuning Delta")
    p.add_argument("--u", type=float, default=1.0, help="Kerr nonlinearity u")
    p.add_argument("--nmax", type=positive_int, default=None,
                   help="Fock truncation (default: per size, from the NESS tail bound)")
    p.add_argument("--chunk", type=positive_int, default=8, help="points per batch")
    p.add_argument("--recompute-flagged", action="store_true",
                   help="recompute flagged rows of an earlier run")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--out", required=True, help="output directory (spectrum.csv, spectrum_gap.png)")


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv, select_rows
    from jaxent.models.kerr import mean_field_bistability
    from jaxent.plotting.quench import plot_gap
    from jaxent.plotting.worker import draw
    from jaxent.studies.spectrum import SPECTRUM_KEY, spectrum_sweep

    N_values = np.unique(parse_values(args.N, "N"))
    if np.any(N_values != np.round(N_values)) or np.any(N_values < 1):
        raise argparse.ArgumentTypeError(f"--N: sizes must be positive integers, got {N_values}")
    eps = np.unique(parse_values(args.eps, "eps"))
    if np.any(eps < 0):
        raise argparse.ArgumentTypeError(f"--eps: pumps must be >= 0, got {eps}")
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "spectrum.csv")
    result = spectrum_sweep(N_values, eps, csv_path, kappa=args.kappa, delta=args.delta,
                            u=args.u, k=args.k, chunk=args.chunk, nmax=args.nmax,
                            recompute_flagged=args.recompute_flagged,
                            progress=not args.no_progress)
    data = read_csv(csv_path, key=list(SPECTRUM_KEY))
    data = select_rows(data, kappa=args.kappa, delta=args.delta, u=args.u, N=N_values,
                       eps=eps)
    window = mean_field_bistability(args.kappa, args.delta, args.u)
    fig = draw(plot_gap, data, os.path.join(args.out, "spectrum_gap.png"), window=window)
    report_sweep(result, "spectrum")
    flagged = sum(1 for f in data["flags"] if f)
    n_rows = len(data["flags"])
    print(f"wrote {csv_path} ({n_rows} rows; {flagged} flagged) and {fig}")
    print("N     min gap       at eps    max relative error (condition x resolution)")
    N_arr, gap, e = (np.asarray(data[c], float) for c in ("N", "gap", "eps"))
    res = np.asarray(data["resolution_1"], float) * np.asarray(data["condition_1"], float)
    res = np.where(np.isnan(res), np.inf, res)  # a gap without a bound has none: inf, not NaN
    for N in np.unique(N_arr):
        m = N_arr == N
        j = np.argmin(gap[m])
        print(f"{N:<5g} {gap[m][j]:<13.4e} {e[m][j]:<9.4g} {np.max(res[m] / np.abs(gap[m])):.1e}")
