r"""The Kerr Liouvillian gap and slowest eigenvalues over pumps x sizes [GFL-quench, Fig. 3].

Data flow: :class:`~jaxent.models.kerr.Kerr` -> :func:`~jaxent.models.kerr.kerr_lindbladian` ->
:func:`~jaxent.lindblad.spectrum.liouvillian_spectrum` (shift-invert Arnoldi on the banded
factorisation, or nested dissection for large groups: :func:`shift_invert_solver`) -> one row
per ``(N, eps, kappa, delta, u)`` with ``gap``, ``lambda_k_re``, ``lambda_k_im`` and each
eigenvalue's ``resolution_k`` (backward error) and ``condition_k`` (its condition number: 2.6-43
for the Kerr gap, up to 1e4 for the next eigenvalues): the eigenvalue's error is at most about
``condition_k * resolution_k`` (:mod:`jaxent.lindblad.spectrum`). The flags use that bound.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from jaxent.lindblad import BandedElimination, NestedDissection
from jaxent.lindblad.spectrum import liouvillian_spectrum
from jaxent.models.kerr import Kerr, kerr_lindbladian
from jaxent.studies.kerr import check_sweep_inputs, group_by_model, nmax_for_points
from jaxent.sweep import Study, SweepResult, run_sweep

SPECTRUM_KEY = ("N", "eps", "kappa", "delta", "u")
#: Eigenvalues per row.
N_EIGENVALUES = 4


def spectrum_columns(k: int = N_EIGENVALUES) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(outputs, diagnostics) column names for ``k`` eigenvalues."""
    outs = ("gap",) + tuple(f"lambda_{i}_{part}" for i in range(1, k + 1) for part in ("re", "im"))
    diags = (tuple(f"resolution_{i}" for i in range(1, k + 1))
             + tuple(f"condition_{i}" for i in range(1, k + 1)) + ("norm_L",))
    return outs, diags


def error_bound(row, i: int) -> float:
    """``condition_i * resolution_i`` of a row: eigenvalue ``i``'s first-order error bound
    (NaN stays NaN)."""
    return row[f"resolution_{i}"] * row[f"condition_{i}"]


def _checks(row) -> list[tuple[str, str]]:
    out = []
    err = error_bound(row, 1)
    if not err < 0.01 * abs(row["gap"]):
        out.append(("resolution", f"the gap {row['gap']:.2e} is known only to +-{err:.1e} "
                                  f"(resolution {row['resolution_1']:.1e} x condition number "
                                  f"{row['condition_1']:.2g}; float64 limit "
                                  f"eps ||L|| = {2.2e-16 * row['norm_L']:.1e})"))
    # the other eigenvalues: to 1 % of their modulus (with the shift-invert at sigma = 0, a gap
    # at the float64 limit left the Krylov space polluted and the next Ritz values unconverged,
    # residuals 1e-2..3e-1 at N = 40; a guard now that the shift keeps them at ~1e-12)
    bad = []
    i = 2
    while f"resolution_{i}" in row:
        lam = abs(complex(row[f"lambda_{i}_re"], row[f"lambda_{i}_im"]))
        if not error_bound(row, i) < 0.01 * lam:
            bad.append(f"lambda_{i} (+-{error_bound(row, i):.1e})")
        i += 1
    if bad:
        out.append(("eigenvalues", f"{', '.join(bad)} not resolved to 1 % of |lambda| (their "
                                   "error bound in brackets): do not use them"))
    return out


_SOLVERS = {"banded": BandedElimination(), "dissection": NestedDissection(leaf=8)}


def shift_invert_solver(nmax: int, n_points: int) -> str:
    """The factorisation for ``n_points`` spectra at ``nmax``: ``"dissection"``
    (:class:`~jaxent.lindblad.NestedDissection`, leaf 8) where its faster solves repay its
    longer compilation, else ``"banded"`` (:class:`~jaxent.lindblad.BandedElimination`).

    Cost model, measured on the 2-core CPU (jax 0.10.2, k = 4, 40 Arnoldi steps, vmapped chunks
    of 8, before the sweep ran them point by point and added the condition numbers, which
    change both solvers' times alike):
    per spectrum 1.16 (nmax/165)^3 s banded against 0.47 (nmax/165)^2 s by dissection (0.63 /
    0.32 s at nmax 131), and about 9 s more compilation for the dissection's unrolled tree.
    (Measured with 40 Arnoldi steps; run to convergence, 50-120, the solves weigh more and the
    dissection pays off sooner: the rule errs towards the block-Thomas factorisation.) Both
    give the same eigenvalues within their resolutions, so a resumed sweep may switch.
    """
    t_banded = 1.16 * (nmax / 165) ** 3
    t_dissection = 0.47 * (nmax / 165) ** 2
    return "dissection" if n_points * (t_banded - t_dissection) > 9.0 else "banded"


def _point(p, static):
    nm, solver, k = static
    model = Kerr(eps=p["eps"], N=p["N"], kappa=p["kappa"], delta=p["delta"], u=p["u"])
    spec = liouvillian_spectrum(kerr_lindbladian(model, nm), k, method="arnoldi",
                                solver=_SOLVERS[solver])
    out = {"gap": spec.gap, "norm_L": spec.norm}
    for i in range(k):
        out[f"lambda_{i + 1}_re"] = spec.eigenvalues[i].real
        out[f"lambda_{i + 1}_im"] = spec.eigenvalues[i].imag
        out[f"resolution_{i + 1}"] = spec.resolution[i]
        out[f"condition_{i + 1}"] = spec.condition[i]
    return out


def make_study(k: int = N_EIGENVALUES, nmax: int | None = None, nmax_step: int = 8) -> Study:
    """The spectrum :class:`~jaxent.sweep.Study` (``k`` eigenvalues). Its point function is
    one module-level function (``k`` in the static data), so every study made here shares
    the compiled programs of the process."""
    outs, diags = spectrum_columns(k)

    def assign_static(points):
        statics: list[tuple[int, str, int] | None] = [None] * len(points)
        for (N, kappa, delta, u), idx in group_by_model(points).items():
            nm = nmax if nmax is not None else nmax_for_points(
                N, [points[i]["eps"] for i in idx], kappa, delta, u, nmax_step)
            for i in idx:
                statics[i] = (int(nm), shift_invert_solver(int(nm), len(idx)), int(k))
        return statics

    return Study(name="spectrum", params=SPECTRUM_KEY, outputs=outs, diagnostics=diags,
                 point=_point, assign_static=assign_static, checks=_checks,
                 static_names=("nmax",), static_columns=lambda st: {"nmax": st[0]},
                 describe=lambda st: f"nmax={st[0]}, {st[1]}", sequential=True)


def spectrum_sweep(N_values: ArrayLike, eps_values: ArrayLike, out_csv, *,
                   kappa: float = 0.5, delta: float = -2.0, u: float = 1.0,
                   k: int = N_EIGENVALUES, chunk: int = 8, nmax: int | None = None,
                   nmax_step: int = 8, recompute_flagged: bool = False,
                   progress: bool = True) -> SweepResult:
    """The ``k`` slowest eigenvalues on ``N_values x eps_values`` into ``out_csv`` (resumable;
    :func:`jaxent.sweep.run_sweep`). Bad input raises ``ValueError`` naming the parameter."""
    N_values, pumps = check_sweep_inputs(N_values, kappa, delta, u, eps=eps_values)
    eps_values = pumps["eps"]
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    points = [dict(N=N, eps=e, kappa=float(kappa), delta=float(delta), u=float(u))
              for N in N_values for e in eps_values]
    return run_sweep(make_study(int(k), nmax=nmax, nmax_step=nmax_step), points, out_csv,
                     chunk=chunk, recompute_flagged=recompute_flagged, progress=progress)
