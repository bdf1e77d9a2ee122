"""``jaxent quench``: entropy production after a pump quench eps_i -> eps_f of the Kerr model
(GFL-quench Figs. 4-8), followed to full relaxation with ``--t auto``."""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxent.commands._args import (
    add_values_argument,
    parse_values,
    positive_int,
    report_sweep,
)

DEFAULT_N = ["1", "5", "10"]
DEFAULT_EPS_F = ["0.6", "0.8", "0.933", "1.1", "1.16616", "1.3"]


def add_parser(sub) -> None:
    p = sub.add_parser("quench", help="Kerr quench dynamics and entropy production "
                                      "(GFL-quench Figs. 4-8)", description=__doc__)
    add_values_argument(p, "N", DEFAULT_N, "system sizes N")
    add_values_argument(p, "eps-i", ["0.5"], "initial pumps (the state starts in their NESS)")
    add_values_argument(p, "eps-f", DEFAULT_EPS_F, "final pumps (the dynamics)")
    p.add_argument("--t", nargs="+", default=["0:20:201"], metavar="TIMES",
                   help="save times: start:stop:count ranges and explicit values (space- or "
                        "comma-separated, in any mix), or "
                        "'auto' / 'auto:COUNT' (COUNT times out to full relaxation, 30/gap, on a "
                        "log scale when long; default count 201); default 0:20:201")
    p.add_argument("--kappa", type=float, default=0.5, help="loss rate, 2 kappa D[a]")
    p.add_argument("--delta", type=float, default=-2.0, help="detuning Delta")
    p.add_argument("--u", type=float, default=1.0, help="Kerr nonlinearity u")
    p.add_argument("--nmax", type=positive_int, default=None,
                   help="Fock truncation (default: per size, the NESS truncation of the larger "
                        "pump + 25 %% for the transient)")
    p.add_argument("--chunk", type=positive_int, default=4,
                   help="quenches per vmapped batch")
    p.add_argument("--recompute-flagged", action="store_true",
                   help="recompute quenches with flagged rows from an earlier run")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--out", required=True, help="output directory (quench.csv, quench_*.png)")


def parse_times(text: str | list[str]) -> tuple[np.ndarray | None, int | None]:
    """``--t`` (its words, or one string) -> ``(times, None)`` or ``(None, auto_count)``."""
    text = (" ".join(text) if isinstance(text, (list, tuple)) else text).strip()
    if text == "auto" or text.startswith("auto:"):
        count = 201
        if text != "auto":
            try:
                count = int(text.split(":", 1)[1])
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"--t: cannot parse {text!r} (auto:COUNT)") from None
        if count < 3:
            raise argparse.ArgumentTypeError(f"--t: auto needs at least 3 save times, got {count}")
        return None, count
    ts = parse_values([s for s in text.replace(",", " ").split() if s], "t")
    if np.any(ts < 0):
        raise argparse.ArgumentTypeError(f"--t: save times must be >= 0, got {text!r}")
    if np.any(np.diff(ts) <= 0):
        raise argparse.ArgumentTypeError(
            f"--t: save times must be strictly increasing, got {text!r}")
    return ts, None


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv, select_rows
    from jaxent.plotting.quench import plot_quench_figures
    from jaxent.plotting.worker import draw
    from jaxent.studies.quench import QUENCH_PARAMS, quench_sweep

    N_values = np.unique(parse_values(args.N, "N"))
    if np.any(N_values != np.round(N_values)) or np.any(N_values < 1):
        raise argparse.ArgumentTypeError(f"--N: sizes must be positive integers, got {N_values}")
    eps_i = np.unique(parse_values(args.eps_i, "eps-i"))
    eps_f = np.unique(parse_values(args.eps_f, "eps-f"))
    for flag, vals in (("eps-i", eps_i), ("eps-f", eps_f)):
        if np.any(vals < 0):
            raise argparse.ArgumentTypeError(f"--{flag}: pumps must be >= 0, got {vals}")
    ts, auto = parse_times(args.t)
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "quench.csv")
    result = quench_sweep(N_values, eps_i, eps_f, csv_path, t_values=ts, t_auto=auto,
                          kappa=args.kappa, delta=args.delta, u=args.u, chunk=args.chunk,
                          nmax=args.nmax, recompute_flagged=args.recompute_flagged,
                          progress=not args.no_progress)
    data = read_csv(csv_path, key=list(QUENCH_PARAMS) + ["t"])
    data = select_rows(data, kappa=args.kappa, delta=args.delta, u=args.u, N=N_values,
                       eps_i=eps_i, eps_f=eps_f)
    figs = draw(plot_quench_figures, data, args.out)
    report_sweep(result, "quench")
    flagged = sum(1 for f in data["flags"] if f)
    n_rows = len(data["flags"])
    print(f"wrote {csv_path} ({n_rows} rows for these quenches; {flagged} flagged) and "
          f"{len(figs)} figures ({', '.join(os.path.basename(f) for f in figs)})")
    resid = np.abs(np.asarray(data["identity_residual"], float))
    print(f"max |dS/dt - (Pi_U + Pi_J - Phi)| / Phi along the trajectories: {resid.max():.2e}; "
          f"max |tr rho - 1|: {np.max(data['trace_error']):.1e}")
    print("N     eps_i   eps_f    gap         t_last      Phi/N(t_last)  Phi_NESS/N  G(t_last)")
    rows = {}
    for i in range(n_rows):
        k = (data["N"][i], data["eps_i"][i], data["eps_f"][i])
        if k not in rows or data["t"][i] > data["t"][rows[k]]:
            rows[k] = i
    for (N, ei, ef), i in sorted(rows.items()):
        print(f"{N:<5g} {ei:<7g} {ef:<8g} {data['gap'][i]:<11.4e} {data['t'][i]:<11.4g} "
              f"{data['Phi'][i] / N:<14.8g} {data['Phi_ness_f'][i] / N:<11.8g} {data['G'][i]:.4g}")
