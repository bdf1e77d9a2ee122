"""``jaxent kerr``: Wehrl entropy production of the Kerr NESS over pumps x sizes (GFL20 Fig. 2)."""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxent.commands._args import (
    add_sweep_arguments,
    add_values_argument,
    parse_values,
    positive_int,
    report_sweep,
)

# The default sweep (the README's main job): every size of GFL20 Fig. 2(c,d), pumps across the
# bistable window with extra points around eps_c. Sized to finish in minutes on a 2-core CPU.
DEFAULT_N = ["10:40:7"]
DEFAULT_EPS = ["0.5:1.3:33", "0.9:0.97:15"]
PARAMS = ["N", "eps", "kappa", "delta", "u"]


def add_parser(sub) -> None:
    p = sub.add_parser("kerr", help="Kerr NESS entropy production sweep (GFL20 Fig. 2)",
                       description=__doc__)
    add_values_argument(p, "N", DEFAULT_N, "system sizes N (pump E = eps sqrt(N), U = u/N)")
    add_values_argument(p, "eps", DEFAULT_EPS, "pump values eps")
    p.add_argument("--kappa", type=float, default=0.5, help="loss rate, 2 kappa D[a] (default 0.5)")
    p.add_argument("--delta", type=float, default=-2.0, help="detuning Delta (default -2)")
    p.add_argument("--u", type=float, default=1.0, help="Kerr nonlinearity u (default 1)")
    p.add_argument("--eps-c", type=float, default=0.933,
                   help="eps_c for the collapse (default 0.933)")
    p.add_argument("--nmax", type=positive_int, default=None,
                   help="Fock truncation for every point (default: chosen per size from a "
                        "rigorous tail bound on the exact moments, then padded to a shared "
                        "shape class; see --nmax-step)")
    p.add_argument("--nmax-step", type=positive_int, default=16,
                   help="round each size's nmax up to a multiple of this (default 16); sizes are "
                        "then padded up to a few shared nmax where a compilation costs more "
                        "than the padding (larger steps share more; 96 is fastest on a GPU)")
    add_sweep_arguments(p, PARAMS, chunk=8)
    p.add_argument("--out", required=True, help="output directory (kerr.csv, kerr_fig2.png)")


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv, select_rows
    from jaxent.plotting.kerr import peak_of_pi_d_per_N, plot_kerr_fig2
    from jaxent.plotting.worker import draw
    from jaxent.studies.kerr import KERR_KEY, kerr_sweep

    N_values = np.unique(parse_values(args.N, "N"))
    eps_values = np.unique(parse_values(args.eps, "eps"))
    if np.any(N_values != np.round(N_values)) or np.any(N_values < 1):
        raise argparse.ArgumentTypeError(f"--N: sizes must be positive integers, got {N_values}")
    if args.nmax is not None and args.nmax < 2:
        raise argparse.ArgumentTypeError(f"--nmax: must be >= 2, got {args.nmax}")
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "kerr.csv")
    result = kerr_sweep(N_values, eps_values, csv_path, kappa=args.kappa, delta=args.delta,
                        u=args.u, chunk=args.chunk, nmax_step=args.nmax_step, nmax=args.nmax,
                        grad=args.grad, recompute_flagged=args.recompute_flagged,
                        progress=not args.no_progress)
    data = read_csv(csv_path, key=KERR_KEY)
    # The file may hold earlier sweeps at other parameters (resume is by full key): plot these.
    data = select_rows(data, kappa=args.kappa, delta=args.delta, u=args.u)
    fig = draw(plot_kerr_fig2, data, os.path.join(args.out, "kerr_fig2.png"), eps_c=args.eps_c)
    report_sweep(result, "kerr")
    resid = np.abs(np.asarray(data["ness_identity_residual"]))
    flagged = sum(1 for f in data["flags"] if f)
    print(f"wrote {csv_path} ({len(resid)} rows at these kappa, delta, u; {flagged} flagged) "
          f"and {fig}")
    print(f"max |Pi_U + Pi_J - Phi| / Phi over the sweep: {resid.max():.2e}")
    err = np.asarray(data["exact_moment_error"], float)
    if np.isfinite(err).any():
        print(f"max deviation of <n>, <a> from the exact moments: {np.nanmax(err):.2e}")
    print("N     eps at max Pi_d/N   max Pi_d/N")
    for N, (eps_star, peak) in sorted(peak_of_pi_d_per_N(data).items()):
        print(f"{N:<5g} {eps_star:<19.6g} {peak:.6g}")
