"""``jaxent dicke``: Wehrl entropy production of the Gaussianized open Dicke model across the
superradiant transition (GFL20 Fig. 3).

Writes ``DIR/dicke.csv`` (one row per (lam/lam_c, omega0, omega, kappa, gamma); resumable) and
``DIR/dicke_fig3.png``. ``lambda_c = (1/2) sqrt(omega0 (kappa^2 + omega^2)/omega)`` [GFL20, App. C]
(see :mod:`jaxent.models.dicke` for why the main-text formula is wrong).
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

from jaxent.commands._args import add_values_argument, parse_values

#: CSV columns (names are part of the interface).
DICKE_COLUMNS = [
    "lam_over_lamc", "omega0", "omega", "kappa", "gamma",
    "lam", "lam_c", "Pi_u", "dPi_u_dlam", "Pi_d", "dPi_d_dlam", "Phi_q", "Pi_d_a",
    "n_a_fluct", "n_b_fluct", "alpha_re", "alpha_im", "beta", "superradiant",
    # error control: a reader can check every row
    "max_re_eig", "identity_residual", "lyapunov_residual",
]
DICKE_KEY = ["lam_over_lamc", "omega0", "omega", "kappa", "gamma"]
IDENTITY_TOL = 1e-8


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


def _validate(name, values, positive=False):
    if positive and np.any(values <= 0):
        raise argparse.ArgumentTypeError(f"--{name}: values must be > 0, got {values}")
    if np.any(values < 0):
        raise argparse.ArgumentTypeError(f"--{name}: values must be >= 0, got {values}")


def run(args: argparse.Namespace) -> None:
    from jaxent.io import ResumableCSV, read_csv
    from jaxent.models.dicke import critical_coupling, dicke_sweep
    from jaxent.plotting.dicke import plot_dicke_fig3

    ratios = np.unique(parse_values(args.lam_over_lamc, "lam-over-lamc"))
    grids = {k: np.unique(parse_values(getattr(args, k), k))
             for k in ("omega0", "omega", "kappa", "gamma")}
    _validate("lam-over-lamc", ratios)
    _validate("omega0", grids["omega0"], positive=True)
    _validate("omega", grids["omega"], positive=True)
    _validate("kappa", grids["kappa"])
    _validate("gamma", grids["gamma"])
    if np.any(ratios == 1.0):
        raise argparse.ArgumentTypeError(
            "--lam-over-lamc: 1 is exactly the critical point, where Pi_u has a kink and Pi_d "
            "diverges as gamma -> 0; leave it out (e.g. use an even number of points)")
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "dicke.csv")
    table = ResumableCSV(csv_path, DICKE_COLUMNS, DICKE_KEY)
    for w0, w, k, g in itertools.product(grids["omega0"], grids["omega"], grids["kappa"],
                                         grids["gamma"]):
        todo = [r for r in ratios if not table.is_done(lam_over_lamc=r, omega0=w0, omega=w,
                                                       kappa=k, gamma=g)]
        if not todo:
            continue
        todo = np.asarray(todo)
        lc = float(critical_coupling(w0, w, k))
        lams = todo * lc
        try:
            out = dicke_sweep(lams, w0, w, k, g, with_grad=True)
        except ValueError as exc:
            raise ValueError(f"--lam-over-lamc at omega0={w0:g}, omega={w:g}, kappa={k:g}, "
                             f"gamma={g:g}: {exc}") from None
        out = {name: np.asarray(v) for name, v in out.items()}
        bad = [name for name in DICKE_COLUMNS if name in out and not np.all(np.isfinite(out[name]))]
        if bad:
            raise ValueError(f"non-finite values in {bad} at gamma={g:g}; refusing to write them")
        resid = np.abs(out["identity_residual"])
        if resid.max() > IDENTITY_TOL:
            raise ValueError(f"NESS identity Pi_u + Pi_d = Phi_q violated by {resid.max():.2e} "
                             f"(> {IDENTITY_TOL:g}) at gamma={g:g}: ill-conditioned parameters")
        rows = []
        for i, r in enumerate(todo):
            row = {"lam_over_lamc": float(r), "omega0": float(w0), "omega": float(w),
                   "kappa": float(k), "gamma": float(g), "lam": float(lams[i])}
            for name in DICKE_COLUMNS:
                if name not in row:
                    row[name] = float(out[name][i])
            rows.append(row)
        table.append(rows)
    data = read_csv(csv_path)
    fig, fits = plot_dicke_fig3(data, os.path.join(args.out, "dicke_fig3.png"),
                                fit_window=tuple(args.fit_window))
    resid = np.abs(np.asarray(data["identity_residual"]))
    print(f"wrote {csv_path} ({len(resid)} points) and {fig}")
    print(f"max |Pi_u + Pi_d - Phi_q| / Phi_q over the table: {resid.max():.2e}")
    for (w0, w, k, g), (left, right) in fits.items():
        lc = float(critical_coupling(w0, w, k))
        print(f"omega0={w0:g} omega={w:g} kappa={k:g} gamma={g:g}: lambda_c={lc:.10g}; slope of "
              f"log10 Pi_d vs log10|lam - lam_c| for |lam - lam_c|/lam_c in "
              f"[{args.fit_window[0]:g}, {args.fit_window[1]:g}]: below {left:.4f}, "
              f"above {right:.4f}")
