"""``jaxent critical``: critical points from exact derivatives, extrapolated to N -> infinity.

``--model kerr``: the pumps eps*(N) of the maximum of Pi_d/N (Newton through the NESS), of
the susceptibility d(n/N)/d eps (exact moments, also at N in the thousands) and of the minimum of
the Liouvillian gap (shift-invert Arnoldi), each extrapolated to eps_c with an error bar.
``--model dicke``: lambda_c from the divergence of Pi_d as the stabilising loss gamma -> 0, and
the exponent of that divergence.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

from jaxent.commands._args import add_values_argument, parse_values, positive_int

DEFAULT_N = ["10:40:7"]


#: Ctrl-C message (:func:`jaxent.cli.main`): the results are written at the end, atomically.
INTERRUPTED = ("critical.csv is written only when a run completes (atomically), so the previous "
               "file, if any, is unchanged; re-run the command")


def add_parser(sub) -> None:
    p = sub.add_parser("critical", description=__doc__,
                       help="critical points and exponents (Kerr eps_c, Dicke lambda_c)")
    p.add_argument("--model", required=True, choices=["kerr", "dicke"], help="which model")
    add_values_argument(p, "N", DEFAULT_N, "Kerr: NESS sizes for eps*(N) (at least 3)")
    add_values_argument(p, "large-N", ["40", "80", "160", "320", "640", "1280", "2560"],
                        "Kerr: sizes of the exact-moment susceptibility cross-check (0 for none)")
    p.add_argument("--definitions", nargs="+", default=["susceptibility", "Pi_d", "gap"],
                   choices=["susceptibility", "Pi_d", "gap"],
                   help="Kerr: which pseudo-critical points (default: all three)")
    p.add_argument("--kappa", type=float, default=None,
                   help="loss rate (Kerr: 2 kappa D[a], default 0.5; Dicke: default 1)")
    p.add_argument("--delta", type=float, default=-2.0, help="Kerr detuning Delta")
    p.add_argument("--u", type=float, default=1.0, help="Kerr nonlinearity u")
    p.add_argument("--nmax", type=positive_int, default=None,
                   help="Kerr: Fock truncation (default: from the NESS tail bound)")
    add_values_argument(p, "gamma", ["1e-2", "1e-3", "1e-4", "1e-5", "1e-6"],
                        "Dicke: stabilising losses for the gamma -> 0 limit")
    p.add_argument("--omega0", type=float, default=0.005, help="Dicke spin frequency")
    p.add_argument("--omega", type=float, default=0.01, help="Dicke cavity frequency")
    p.add_argument("--out", required=True,
                   help="output directory (critical.csv, critical_<model>.png)")


def _write_csv(path: str, rows: list[dict]) -> None:
    """All rows at once, atomically (a temporary file renamed over the target): an interrupted
    run leaves the previous file or none, never a partial one."""
    from jaxent.studies.critical import CRITICAL_COLUMNS, CRITICAL_DIAGNOSTICS

    cols = CRITICAL_COLUMNS + CRITICAL_DIAGNOSTICS
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(",".join(cols) + "\n")
        for r in rows:
            fh.write(",".join(_fmt(r.get(c, math.nan)) for c in cols) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    v = float(v)
    if math.isnan(v):
        return ""
    return "inf" if math.isinf(v) else repr(v)


def run(args: argparse.Namespace) -> None:
    from jaxent.plotting.critical import plot_dicke_critical, plot_kerr_critical
    from jaxent.studies.critical import dicke_critical, kerr_critical

    os.makedirs(args.out, exist_ok=True)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    if args.model == "kerr":
        N = np.unique(parse_values(args.N, "N"))
        if np.any(N != np.round(N)) or np.any(N < 1):
            raise argparse.ArgumentTypeError(f"--N: sizes must be positive integers, got {N}")
        large = np.unique(parse_values(args.large_N, "large-N"))
        if np.any(large != np.round(large)) or np.any(large < 0):
            raise argparse.ArgumentTypeError(f"--large-N: sizes must be positive integers (0 for "
                                             f"none), got {large}")
        large = large[large > 0]
        kappa = 0.5 if args.kappa is None else args.kappa
        res = kerr_critical(N, large_N=large, kappa=kappa, delta=args.delta, u=args.u,
                            nmax=args.nmax, definitions=args.definitions, log=log)
        fig = plot_kerr_critical(res, os.path.join(args.out, "critical_kerr.png"))
    else:
        gammas = parse_values(args.gamma, "gamma")
        if np.any(gammas <= 0):
            raise argparse.ArgumentTypeError(f"--gamma: must be positive, got {gammas}")
        kappa = 1.0 if args.kappa is None else args.kappa
        for name, val in (("kappa", kappa), ("omega0", args.omega0), ("omega", args.omega)):
            if not (math.isfinite(val) and val > 0):
                raise argparse.ArgumentTypeError(f"--{name}: must be positive, got {val}")
        res = dicke_critical(gammas=gammas, omega0=args.omega0, omega=args.omega, kappa=kappa,
                             log=log)
        fig = plot_dicke_critical(res, os.path.join(args.out, "critical_dicke.png"))
    csv_path = os.path.join(args.out, "critical.csv")
    from jaxent.io import waiting_lock

    # read-merge-write under an exclusive lock, so that concurrent runs (kerr and dicke into
    # one directory) both keep their rows; rows of the other model from earlier runs are kept
    with waiting_lock(csv_path):
        keep = []
        if os.path.exists(csv_path):
            from jaxent.io import read_csv

            old = read_csv(csv_path)
            if "model" not in old:
                raise ValueError(f"{csv_path} exists but is not a critical.csv (no 'model' "
                                 "column); choose another --out")
            keep = [{c: old[c][i] for c in old} for i in range(len(old["model"]))
                    if old["model"][i] != args.model]
        _write_csv(csv_path, keep + res["rows"])
    print(f"wrote {csv_path} ({len(res['rows'])} {args.model} rows) and {fig}")
    if args.model == "kerr":
        print("definition               eps_c (N -> inf)       stderr    order  jackknife inside")
        for name, e in res["fits"].items():
            print(f"{name:24s} {e.value:<22.9f} {e.stderr:<9.1e} {e.order:<6d} "
                  f"{e.jackknife_inside}")
        print("all definitions agree within their error bars:", res["consistent"])
        few = min((len(e.N) for e in res["fits"].values()), default=0)
        if few < 4:
            print(f"note: some fits use only {few} sizes: the order in 1/N cannot be chosen from "
                  "so few, and their error bars are unreliable (use >= 4 sizes, N >= 10)")
        if res["failed"]:
            print("NOT CONVERGED (left out of the fits): " + "; ".join(res["failed"]))
