"""``jaxent oscillators``: local vs global master equations vs exact Langevin vs Gibbs for two
coupled, thermally damped oscillators near criticality (KL Figs. 2-6).

Temperature pairs computed. With none of ``--T1 --T2 --delta-T --delta-T-low`` given, the
pairs of KL's figures: ``T1 = T2 = 98``, the ``--delta-T`` pairs -50, -20, 20, 50 and (unless
``--no-low-T``) the ``--delta-T-low`` pairs -1, -0.5, 0.5, 1. With any of them given, exactly
the pairs asked for:

- every ``(T1, T2)`` of ``--T1 x --T2`` (a missing one of the two is 98);
- for each ``--delta-T`` the pair of KL Fig. 6 (``Delta T = T2 - T1``; ``Delta T > 0``:
  ``T1 = T_base, T2 = T1 + Delta T``; ``Delta T < 0``: ``T2 = T_base, T1 = T2 - Delta T``;
  ``T_base = --T-base``, 98);
- for each ``--delta-T-low`` the low-temperature pair of KL Fig. 4 (``T2 = --T-low`` = 1.96,
  ``T1 = T2 - Delta T``).
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

#: Key columns (= ``jaxent.studies.oscillators.OSC_KEY``; repeated here so that building the
#: parser does not import JAX): the traced parameters, then the labels.
OSC_PARAMS = ["lam_over_lamc", "T1", "T2", "omega1", "omega2", "gamma1", "gamma2"]
KEY = OSC_PARAMS + ["coupling", "method"]


def add_parser(sub) -> None:
    p = sub.add_parser("oscillators", help="two coupled damped oscillators: local/global ME vs "
                       "Langevin vs Gibbs (KL Figs. 2-6)", description=__doc__)
    p.add_argument("--coupling", choices=["pp", "rw", "both"], default="both",
                   help="position-position (pp), rotating-wave (rw) or both (default both)")
    add_values_argument(p, "lam-over-lamc", ["0.05:0.99:60"], "couplings lambda/lambda_c in [0, 1)")
    add_values_argument(p, "T1", None, "bath temperatures T1, combined with every T2 (default: "
                        "KL's figure set, see above)")
    add_values_argument(p, "T2", None, "bath temperatures T2 (default: KL's figure set)")
    add_values_argument(p, "delta-T", None, "high-temperature differences Delta T = T2 - T1 "
                        "(KL Fig. 6 convention; default: -50 -20 20 50 in KL's figure set)")
    p.add_argument("--T-base", type=float, default=98.0, help="base temperature for --delta-T (98)")
    add_values_argument(p, "delta-T-low", None, "low-temperature differences (T2 = --T-low, "
                        "T1 = T2 - Delta T; default: -1 -0.5 0.5 1 in KL's figure set)")
    p.add_argument("--T-low", type=float, default=1.96, help="T2 of the low-temperature set (1.96)")
    p.add_argument("--no-low-T", action="store_true",
                   help="leave the low-temperature pairs out of KL's figure set")
    p.add_argument("--omega1", type=float, default=5.0, help="frequency omega_1 (default 5)")
    p.add_argument("--omega2", type=float, default=2.0, help="frequency omega_2 (default 2)")
    p.add_argument("--gamma1", type=float, default=1.5e-4, help="damping gamma_1 (default 1.5e-4)")
    p.add_argument("--gamma2", type=float, default=1.5e-4, help="damping gamma_2 (default 1.5e-4)")
    p.add_argument("--out", required=True, help="output directory (oscillators.csv, figures)")
    add_sweep_arguments(p, params=OSC_PARAMS, chunk=64)


#: KL's figure set, used when no temperature flag is given.
KL_T = ["98"]
KL_DELTA_T = ["-50", "-20", "20", "50"]
KL_DELTA_T_LOW = ["-1", "-0.5", "0.5", "1"]


def _positive(values: np.ndarray, flag: str, what: str = "temperatures") -> np.ndarray:
    if np.any(values <= 0):
        raise argparse.ArgumentTypeError(f"--{flag}: {what} must be > 0, got "
                                         f"{', '.join(f'{v:g}' for v in values[values <= 0])}")
    return values


def temperature_pairs(args) -> list[tuple[float, float]]:
    """The ``(T1, T2)`` pairs to compute (see the module docstring), without repeats."""
    given = [getattr(args, k) is not None for k in ("T1", "T2", "delta_T", "delta_T_low")]
    figure_set = not any(given)
    _positive(np.array([args.T_base]), "T-base")
    _positive(np.array([args.T_low]), "T-low")
    pairs = []
    if figure_set or given[0] or given[1]:
        T1 = _positive(parse_values(args.T1 or KL_T, "T1"), "T1")
        T2 = _positive(parse_values(args.T2 or KL_T, "T2"), "T2")
        pairs += [(float(a), float(b)) for a in T1 for b in T2]
    if figure_set or given[2]:
        for dT in parse_values(args.delta_T or KL_DELTA_T, "delta-T"):
            tb = args.T_base
            pairs.append((tb, tb + float(dT)) if dT >= 0 else (tb - float(dT), tb))
    if (figure_set and not args.no_low_T) or given[3]:
        dTs = parse_values(args.delta_T_low or KL_DELTA_T_LOW, "delta-T-low")
        _positive(args.T_low - dTs, "delta-T-low", "T1 = --T-low - Delta T")
        pairs += [(args.T_low - float(dT), args.T_low) for dT in dTs]
    return list(dict.fromkeys(pairs))


def run(args: argparse.Namespace) -> None:
    from jaxent.io import read_csv, select_rows
    from jaxent.plotting.oscillators import plot_all
    from jaxent.plotting.worker import draw
    from jaxent.studies.oscillators import oscillators_sweep

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
    result = oscillators_sweep(lams, pairs, csv_path, couplings=couplings, omega1=args.omega1,
                               omega2=args.omega2, gamma1=args.gamma1, gamma2=args.gamma2,
                               chunk=args.chunk, grad=args.grad,
                               recompute_flagged=args.recompute_flagged,
                               progress=not args.no_progress)
    data = read_csv(csv_path, key=KEY)
    data = select_rows(data, omega1=args.omega1, omega2=args.omega2, gamma1=args.gamma1,
                       gamma2=args.gamma2)
    figs = draw(plot_all, data, args.out, T_base=args.T_base, T_low=args.T_low)
    flagged = sum(1 for f in data["flags"] if f)
    print(f"wrote {csv_path} ({len(data['n1'])} rows, {flagged} flagged) and " + ", ".join(figs))
    _print_summary(data)
    report_sweep(result, "oscillators")


def _print_summary(data) -> None:
    """n1 of the four methods at Delta T = 0 and local/global ratios to Langevin at the largest
    |Delta T| of the high-temperature set, at lambda/lambda_c = 0.5, 0.9 and 0.99 where the
    sweep has them (the default grid has 0.99 only)."""
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
                  f"{d['global']:.6g} langevin={d['langevin']:.6g} "
                  f"gibbs={d.get('gibbs', np.nan):.6g}")
        else:
            print(f"{c} lam/lamc={r:g} T1={T1:g} T2={T2:g} (dT={T2 - T1:+g}): local/langevin="
                  f"{d['local'] / d['langevin']:.6g} "
                  f"global/langevin={d['global'] / d['langevin']:.6g}")
