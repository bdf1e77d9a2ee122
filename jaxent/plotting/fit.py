r"""Figure of a Kerr parameter fit (:func:`jaxent.studies.fit.fit_kerr`): one column per fitted
observable, the data with error bars against the best-fit model on a fine pump grid (top), and
the residuals $(\text{model} - \text{data})/\sigma$ in units of the uncertainties (bottom; of the
estimated noise $\sqrt{\chi^2/\mathrm{dof}}$ for an unweighted fit), with the 1 and 2 sigma bands.

Built without pyplot (:func:`jaxent.plotting._figure.subplots`), so the user's matplotlib
backend and pyplot's figure registry are left alone.
"""

from __future__ import annotations

import math
import os

import numpy as np

from jaxent.plotting._figure import subplots

#: Axis labels of the observables (``kerr.csv`` conventions: total photons, alpha = <a>/sqrt N).
LABELS = {
    "n_photons": r"$\langle a^\dagger a\rangle$",
    "alpha_re": r"$\mathrm{Re}\,\alpha$",
    "alpha_im": r"$\mathrm{Im}\,\alpha$",
    "Phi": r"$\Phi$",
    "Pi_d": r"$\Pi_d$",
}
_SYMBOLS = {"kappa": r"\kappa", "delta": r"\Delta", "u": "u"}
#: Fine-grid points per panel (in chunks of the data size, so no new compilation).
FINE_POINTS = 120
#: At most this many chunks of the data size for the fine grid.
_MAX_CHUNKS = 8


def format_value(value: float, err: float) -> str:
    """``value ± err`` with two significant digits of the error (``value`` alone, 6 digits,
    when the error is not finite)."""
    if not (math.isfinite(err) and err > 0):
        return f"{value:.6g}"
    digits = max(0, 1 - int(math.floor(math.log10(err))))
    return f"{value:.{digits}f} ± {err:.{digits}f}"


def _fine_grid(fit):
    from jaxent.studies.fit import fit_curves

    M = len(fit.eps)
    chunks = min(_MAX_CHUNKS, max(1, math.ceil(FINE_POINTS / M)))
    if chunks < 2:
        return None, None
    eps = np.linspace(float(np.min(fit.eps)), float(np.max(fit.eps)), chunks * M)
    return eps, fit_curves(fit, eps)


def plot_fit(fit, data, path: str | os.PathLike, fine: bool = True) -> str:
    """Draw ``fit`` (:class:`~jaxent.studies.fit.KerrFit`) over ``data``
    (:class:`~jaxent.studies.fit.FitData`) and save it to ``path``. ``fine``: also evaluate
    the model on a fine pump grid (runs the fit's compiled program, a few times its cost per
    LM step); otherwise the model is drawn through its values at the data points."""
    eps = np.asarray(data.eps, float)
    if tuple(data.observables) != tuple(fit.observables) or eps.shape != fit.eps.shape:
        raise ValueError("plot_fit: data and fit do not match (observables or number of points)")
    order = np.argsort(eps)
    scale = 1.0 if fit.weighted else math.sqrt(fit.chi2_per_dof)
    err = (data.sigma if data.sigma is not None else np.ones_like(data.values)) * scale
    eps_f, curves_f = _fine_grid(fit) if fine else (None, None)
    n_obs = len(fit.observables)
    fig, ax = subplots(2, n_obs, figsize=(3.6 * n_obs + 0.6, 5.0), constrained_layout=True,
                       sharex="col", gridspec_kw={"height_ratios": [3, 1.2]}, squeeze=False)
    # one residual scale for all panels, so they compare at a glance
    lim = max(3.0, 1.15 * float(np.max(np.abs(fit.residuals))) / scale)
    data_label = r"data $\pm\,\sigma$" if fit.weighted else r"data $\pm\,s$"
    for k, obs in enumerate(fit.observables):
        top, bot = ax[0, k], ax[1, k]
        top.errorbar(eps, data.values[:, k], yerr=err[:, k], fmt="o", ms=3.5, color="C0",
                     ecolor="0.45", elinewidth=0.9, capsize=2, label=data_label, zorder=3)
        if eps_f is not None and curves_f is not None:
            top.plot(eps_f, curves_f[:, k], "-", color="C3", lw=1.4, label="fit", zorder=2)
        else:
            top.plot(eps[order], fit.curves[order, k], "-", color="C3", lw=1.4, label="fit",
                     zorder=2)
        top.set_ylabel(LABELS.get(obs, obs))
        top.set_title(obs, fontsize=10)
        res = fit.residuals[:, k] / scale
        bot.axhspan(-2, 2, color="0.93", lw=0)
        bot.axhspan(-1, 1, color="0.85", lw=0)
        bot.axhline(0.0, color="0.3", lw=0.8)
        bot.plot(eps, res, "o", ms=3.5, color="C0")
        bot.set_ylim(-lim, lim)
        bot.set_xlabel(r"$\epsilon$")
        bot.set_ylabel(r"$r/\sigma$" if fit.weighted else r"$r/s$")
    ax[0, 0].legend(fontsize=8, loc="best")
    parts = [f"${_SYMBOLS[p]}$ = {format_value(v, e)}"
             for p, v, e in zip(fit.params, fit.value, fit.stderr)]
    fixed = [f"${_SYMBOLS[p]}$ = {getattr(fit, p):g}" for p in ("kappa", "delta", "u")
             if p not in fit.params]
    title = f"Kerr fit, N = {fit.N:g}: " + ", ".join(parts)
    if fixed:  # on its own line: long values would push the title past the figure's edges
        title += "\n(fixed " + ", ".join(fixed) + ")"
    chi = rf"$\chi^2$/dof = {fit.chi2_per_dof:.3g} (dof {fit.dof})"
    if not fit.weighted:
        chi += r", unweighted: $s = \sqrt{\chi^2/\mathrm{dof}}$"
    fig.suptitle(title + "\n" + chi, fontsize=10)
    fig.savefig(path, dpi=130)
    return os.fspath(path)
