"""``jaxent fit``: fit the Kerr parameters kappa, delta, u to measured NESS curves against the
pump (n_photons, alpha_re, alpha_im, Phi, Pi_d at one size N) by Levenberg-Marquardt through
the NESS, with Laplace (exact-Hessian) standard errors."""

from __future__ import annotations

import argparse
import os
import time

from jaxent.commands._args import positive_int

PARAMS = ("kappa", "delta", "u")
DEFAULTS = {"kappa": 0.5, "delta": -2.0, "u": 1.0}


#: Ctrl-C message (:func:`jaxent.cli.main`): the results are written at the end, atomically.
INTERRUPTED = ("fit.csv is written only when a run completes (atomically), so the previous file, "
               "if any, is unchanged; re-run the command")


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit kappa, delta, u of the Kerr model to measured curves",
                       description=__doc__)
    p.add_argument("--data", required=True,
                   help="CSV with a header: eps, one or more of n_photons, alpha_re, alpha_im, "
                        "Phi, Pi_d (kerr.csv conventions), optional sigma_<observable> (or "
                        "sigma with one observable; without them the fit is unweighted) and N")
    p.add_argument("--N", type=float, default=None,
                   help="size parameter of the data (E = eps sqrt(N), U = u/N); default the "
                        "file's N column")
    p.add_argument("--free", nargs="+", default=list(PARAMS), metavar="PARAM",
                   help="parameters to fit, any of kappa delta u (default all three)")
    p.add_argument("--observables", nargs="+", default=None, metavar="OBS",
                   help="observables to fit (default every one in the file)")
    for name, what in (("kappa", "loss rate, 2 kappa D[a]"), ("delta", "detuning Delta"),
                       ("u", "Kerr nonlinearity u")):
        p.add_argument(f"--{name}", type=float, default=None,
                       help=f"{what}: fixed value, or initial guess when free "
                            f"(default {DEFAULTS[name]:g})")
    p.add_argument("--starts", type=positive_int, default=4,
                   help="Levenberg-Marquardt runs: the guess and the best of a grid around it "
                        "(default 4)")
    p.add_argument("--nmax", type=positive_int, default=None,
                   help="Fock truncation (default: from the tail bound at the largest pump, "
                        "re-checked at the best fit)")
    p.add_argument("--out", required=True, help="output directory (fit.csv, fit.png)")


def run(args: argparse.Namespace) -> None:
    from jaxent.plotting.fit import format_value, plot_fit
    from jaxent.studies.fit import fit_kerr, read_fit_data, write_fit_csv

    t0 = time.perf_counter()
    if args.nmax is not None and args.nmax < 2:
        raise argparse.ArgumentTypeError(f"--nmax: must be >= 2, got {args.nmax}")
    data = read_fit_data(args.data, observables=args.observables, N=args.N)
    fixed, guess = {}, {}
    for name in PARAMS:
        value = getattr(args, name)
        if value is not None:
            (guess if name in args.free else fixed)[name] = value
    fit = fit_kerr(data, args.N, free=args.free, fixed=fixed, guess=guess, starts=args.starts,
                   nmax=args.nmax)
    os.makedirs(args.out, exist_ok=True)
    csv_path = write_fit_csv(fit, os.path.join(args.out, "fit.csv"))
    png = plot_fit(fit, data, os.path.join(args.out, "fit.png"))
    n_pumps, n_obs = fit.data.shape
    print(f"fit of N={fit.N:g} to {n_pumps} pumps x {n_obs} observables "
          f"({', '.join(fit.observables)}), nmax={fit.nmax}")
    print(f"{'param':<8} {'value':>14} {'stderr':>12}")
    for p, v, s in zip(fit.params, fit.value, fit.stderr):
        print(f"{p:<8} {v:>14.8g} {s:>12.3g}")
    fixed_txt = ", ".join(f"{p}={getattr(fit, p):g}" for p in PARAMS if p not in fit.params)
    if fixed_txt:
        print(f"fixed: {fixed_txt}")
    print(f"chi2/dof = {fit.chi2_per_dof:.4g} (chi2 {fit.chi2:.4g}, dof {fit.dof}); best of "
          f"{fit.n_starts} starts (start {fit.start_index + 1}, {fit.n_at_best} reached it), "
          f"{fit.n_steps} steps, {'converged' if fit.converged else 'NOT converged'}")
    print("result: " + "; ".join(f"{p} = {format_value(v, s)}"
                                 for p, v, s in zip(fit.params, fit.value, fit.stderr)))
    for note in fit.notes:
        print(f"note: {note}")
    print(f"wrote {csv_path} and {png} ({time.perf_counter() - t0:.1f} s)")
