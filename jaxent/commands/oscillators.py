"""``jaxent oscillators``: local vs global master equations vs exact Langevin vs Gibbs for two
coupled, thermally damped oscillators near criticality (KL Figs. 2-6).

Temperature pairs computed: every ``(T1, T2)`` of ``--T1 x --T2``; for each ``--delta-T`` the
pair of KL Fig. 6 (``Delta T = T2 - T1``; ``Delta T > 0``: ``T1 = T_base, T2 = T1 + Delta T``;
``Delta T < 0``: ``T2 = T_base, T1 = T2 - Delta T``; ``T_base = --T-base``, 98); and, unless
``--no-low-T``, the low-temperature pairs of KL Fig. 4 (``T2 = --T-low`` = 1.96,
``T1 = T2 - Delta T`` for each ``--delta-T-low``).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxent.commands._args import add_values_argument, parse_values

COLUMNS = ["coupling", "lam_over_lamc", "T1", "T2", "method", "omega1", "omega2", "gamma1",
           "gamma2", "lam", "omega_minus", "omega_plus", "n1", "n2", "mutual_info"]
KEY = ["coupling", "lam_over_lamc", "T1", "T2", "method", "omega1", "omega2", "gamma1", "gamma2"]


def add_parser(sub) -> None:
    p = sub.add_parser("oscillators", help="two coupled damped oscillators: local/global ME vs "
                       "Langevin vs Gibbs (KL Figs. 2-6)", description=__doc__)
    p.add_argument("--coupling", choices=["pp", "rw", "both"], default="both",
                   help="position-position (pp), rotating-wave (rw) or both (default both)")
    add_values_argument(p, "lam-over-lamc", ["0.05:0.99:60"], "couplings lambda/lambda_c in [0, 1)")
    add_values_argument(p, "T1", ["98"], "bath temperatures T1 (combined with every T2)")
    add_values_argument(p, "T2", ["98"], "bath temperatures T2")
    add_values_argument(p, "delta-T", ["-50", "-20", "20", "50"],
                        "high-temperature differences Delta T = T2 - T1 (KL Fig. 6 convention)")
    p.add_argument("--T-base", type=float, default=98.0, help="base temperature for --delta-T (98)")
    add_values_argument(p, "delta-T-low", ["-1", "-0.5", "0.5", "1"],
                        "low-temperature differences (T2 = --T-low, T1 = T2 - Delta T)")
    p.add_argument("--T-low", type=float, default=1.96, help="T2 of the low-temperature set (1.96)")
    p.add_argument("--no-low-T", action="store_true", help="skip the low-temperature set")
    p.add_argument("--omega1", type=float, default=5.0, help="frequency omega_1 (default 5)")
    p.add_argument("--omega2", type=float, default=2.0, help="frequency omega_2 (default 2)")
    p.add_argument("--gamma1", type=float, default=1.5e-4, help="damping gamma_1 (default 1.5e-4)")
    p.add_argument("--gamma2", type=float, default=1.5e-4, help="damping gamma_2 (default 1.5e-4)")
    p.add_argument("--out", required=True, help="output directory (oscillators.csv, figures)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def temperature_pairs(args) -> list[tuple[float, float]]:
    pairs = [(float(a), float(b)) for a in parse_values(args.T1, "T1")
             for b in parse_values(args.T2, "T2")]
    for dT in parse_values(args.delta_T, "delta-T"):
        pairs.append((args.T_base, args.T_base + dT) if dT >= 0 else (args.T_base - dT, args.T_base))
    if not args.no_low_T:
        for dT in parse_values(args.delta_T_low, "delta-T-low"):
            pairs.append((args.T_low - dT, args.T_low))
    out = []
    for p in pairs:
        if p not in out:
            out.append(p)
    bad = [p for p in out if not (p[0] > 0 and p[1] > 0)]
    if bad:
        raise ValueError(f"T1/T2: temperatures must be > 0, got pairs {bad}")
    return out


def compute_point(coupling, r, T1, T2, args) -> list[dict]:
    """All methods at one (coupling, lambda/lambda_c, T1, T2)."""
    from jaxent.gaussian.normal_modes import williamson
    from jaxent.models.oscillators import (
        CoupledOscillators,
        occupations,
        oscillator_steady_state,
        two_mode_mutual_information,
    )

    m = CoupledOscillators(r, omega1=args.omega1, omega2=args.omega2, gamma1=args.gamma1,
                           gamma2=args.gamma2, T1=T1, T2=T2, coupling=coupling)
    omega = np.asarray(williamson(m.G).omega)
    methods = ["local", "global", "langevin"] + (["gibbs"] if T1 == T2 else [])
    rows = []
    for meth in methods:
        s = oscillator_steady_state(m, meth)
        n = np.asarray(occupations(s))
        rows.append(dict(coupling=coupling, lam_over_lamc=float(r), T1=float(T1), T2=float(T2),
                         method=meth, omega1=args.omega1, omega2=args.omega2, gamma1=args.gamma1,
                         gamma2=args.gamma2, lam=float(m.lam), omega_minus=float(omega[0]),
                         omega_plus=float(omega[1]), n1=float(n[0]), n2=float(n[1]),
                         mutual_info=float(two_mode_mutual_information(s))))
    return rows


def run(args: argparse.Namespace) -> None:
    from jaxent.io import ResumableCSV, read_csv
    from jaxent.plotting.oscillators import plot_all

    lams = np.unique(parse_values(args.lam_over_lamc, "lam-over-lamc"))
    if np.any(lams < 0) or np.any(lams >= 1):
        raise ValueError(f"--lam-over-lamc: values must lie in [0, 1) (at or beyond lambda_c the "
                         f"Hamiltonian is not bounded below), got {lams[(lams < 0) | (lams >= 1)]}")
    for name in ("omega1", "omega2", "gamma1", "gamma2"):
        if not getattr(args, name) > 0:
            raise ValueError(f"--{name}: must be > 0, got {getattr(args, name)}")
    couplings = ["pp", "rw"] if args.coupling == "both" else [args.coupling]
    pairs = temperature_pairs(args)
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "oscillators.csv")
    table = ResumableCSV(csv_path, COLUMNS, KEY)
    todo = [(c, r, T1, T2) for c in couplings for T1, T2 in pairs for r in lams
            if not table.is_done(coupling=c, lam_over_lamc=float(r), T1=T1, T2=T2,
                                 method="langevin", omega1=args.omega1, omega2=args.omega2,
                                 gamma1=args.gamma1, gamma2=args.gamma2)]
    it = todo
    if not args.no_progress and todo:
        from tqdm import tqdm
        it = tqdm(todo, desc="oscillators", unit="pt")
    for c, r, T1, T2 in it:
        table.append(compute_point(c, r, T1, T2, args))
    data = read_csv(csv_path)
    keep = [i for i in range(len(data["n1"]))
            if (data["omega1"][i], data["omega2"][i], data["gamma1"][i], data["gamma2"][i])
            == (args.omega1, args.omega2, args.gamma1, args.gamma2)]
    data = {k: [v[i] for i in keep] for k, v in data.items()}
    figs = plot_all(data, args.out, T_base=args.T_base, T_low=args.T_low)
    print(f"wrote {csv_path} ({len(data['n1'])} rows) and " + ", ".join(figs))
    _print_summary(data)


def _print_summary(data) -> None:
    """n1 of the four methods at Delta T = 0 and local/global ratios to Langevin at the largest
    |Delta T| of the high-temperature set, at lambda/lambda_c nearest 0.5, 0.9, 0.99."""
    import collections

    idx = collections.defaultdict(dict)
    for i in range(len(data["n1"])):
        idx[(data["coupling"][i], data["lam_over_lamc"][i], data["T1"][i], data["T2"][i])][
            data["method"][i]] = data["n1"][i]
    for (c, r, T1, T2), d in sorted(idx.items()):
        if min(abs(r - x) for x in (0.5, 0.9, 0.99)) > 1e-9:
            continue
        if T1 == T2:
            print(f"{c} lam/lamc={r:g} T1=T2={T1:g}: n1 local={d['local']:.6g} global="
                  f"{d['global']:.6g} langevin={d['langevin']:.6g} gibbs={d.get('gibbs', np.nan):.6g}")
        else:
            print(f"{c} lam/lamc={r:g} T1={T1:g} T2={T2:g} (dT={T2 - T1:+g}): local/langevin="
                  f"{d['local'] / d['langevin']:.6g} global/langevin={d['global'] / d['langevin']:.6g}")
