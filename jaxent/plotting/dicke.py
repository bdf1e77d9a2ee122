"""GFL20 Fig. 3 from a ``dicke.csv`` table (:mod:`jaxent.commands.dicke`).

Panels: (a) Pi_U vs lambda/lambda_c, (b) dPi_U/dlambda (from ``jax.jvp``, column
``dPi_U_dlam``), (c) Pi_d vs lambda/lambda_c (log scale), (d) log10 Pi_d vs
log10 |lambda_c - lambda| on both sides with least-squares slopes [GFL20, Eq. (13)].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from jaxent.plotting._figure import subplots


class SlopeFit(NamedTuple):
    """A least-squares line ``log10 Pi_d = a + slope log10|lam - lam_c|`` on one side of
    ``lam_c``, with its quality: ``stderr`` of the slope, ``n`` points, ``rms`` residual (in
    decades), and the local slope at the two ends of the window from a quadratic fit
    (``local_lo`` at the smallest ``|lam - lam_c|``); a straight line has ``local_lo ==
    local_hi``, curved data (the Gaussian model at a finite ``gamma``) do not. All NaN when
    fewer than 3 points lie in the window."""

    slope: float
    stderr: float
    n: int
    rms: float
    local_lo: float
    local_hi: float

    def describe(self) -> str:
        """One phrase for the command line."""
        if not np.isfinite(self.slope):
            return (f"no fit ({self.n} point{'s' * (self.n != 1)} in the window, 3 needed: "
                    "widen --fit-window or add points)")
        text = f"{self.slope:.4f} +- {self.stderr:.1e} ({self.n} points, rms {self.rms:.1e} dec"
        if np.isfinite(self.local_lo):
            text += f"; local slope {self.local_lo:.3f} .. {self.local_hi:.3f}"
        return text + ")"


def fit_slope(x, y) -> SlopeFit:
    """:class:`SlopeFit` of ``y`` against ``x`` (both already in log10)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = int(x.size)
    if n < 3:
        return SlopeFit(math.nan, math.nan, n, math.nan, math.nan, math.nan)
    (slope, icpt), cov = np.polyfit(x, y, 1, cov="unscaled")
    res = y - (slope * x + icpt)
    dof = n - 2
    s2 = float(res @ res) / dof if dof > 0 else 0.0
    stderr = math.sqrt(max(cov[0, 0] * s2, 0.0))
    rms = math.sqrt(float(res @ res) / n)
    lo = hi = math.nan
    if n >= 4:
        c2, c1, _ = np.polyfit(x, y, 2)
        lo, hi = (float(2 * c2 * v + c1) for v in (x.min(), x.max()))
    return SlopeFit(float(slope), stderr, n, rms, lo, hi)


def fit_slopes(lam, lam_c, pi_d, window=(1e-3, 1e-1)) -> tuple[SlopeFit, SlopeFit]:
    """:class:`SlopeFit` of log10 Pi_d vs log10 |lam - lam_c| below and above lam_c, on
    ``window[0] <= |lam - lam_c|/lam_c <= window[1]``."""
    lam, pi_d = np.asarray(lam, float), np.asarray(pi_d, float)
    rel = np.abs(lam - lam_c) / lam_c
    out = []
    for side in (lam < lam_c, lam > lam_c):
        sel = side & (rel >= window[0]) & (rel <= window[1])
        out.append(fit_slope(np.log10(np.abs(lam[sel] - lam_c)), np.log10(pi_d[sel])))
    return out[0], out[1]


def plot_dicke_fig3(data: Mapping[str, Sequence], path: str,
                    fit_window=(1e-3, 1e-1)) -> tuple[str, dict[tuple, tuple[SlopeFit, SlopeFit]]]:
    """Draw GFL20 Fig. 3 for every (omega0, omega, kappa, gamma) group in ``data``; returns the
    PNG path and the fitted slopes (below, above) per (omega0, omega, kappa, gamma)."""
    cols = {k: np.asarray(v, dtype=float) for k, v in data.items() if k != "phase"}
    groups = sorted(set(zip(cols["omega0"], cols["omega"], cols["kappa"], cols["gamma"])))
    fig, axes = subplots(2, 2, figsize=(10, 7.5))
    (ax_a, ax_b), (ax_c, ax_d) = axes
    fits = {}
    import matplotlib

    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, grp in enumerate(groups):
        sel = ((cols["omega0"] == grp[0]) & (cols["omega"] == grp[1]) & (cols["kappa"] == grp[2])
               & (cols["gamma"] == grp[3]))
        order = np.argsort(cols["lam"][sel])
        c = {k: v[sel][order] for k, v in cols.items()}
        lc = c["lam_c"][0]
        x = c["lam"] / lc
        label = (rf"$\omega_0$={grp[0]:g}, $\omega$={grp[1]:g}, $\kappa$={grp[2]:g}, "
                 rf"$\gamma$={grp[3]:g}")
        col = colors[gi % len(colors)]
        below, above = x < 1, x > 1
        for m in (below, above):  # separate segments: no line drawn across the kink
            ax_a.plot(x[m], c["Pi_U"][m], color=col, label=label if m is below else None)
            ax_b.plot(x[m], c["dPi_U_dlam"][m], color=col)
            ax_c.plot(x[m], c["Pi_d"][m], color=col)
        left, right = fit_slopes(c["lam"], lc, c["Pi_d"], fit_window)
        fits[grp] = (left, right)
        for m, mk, slope, name in ((below, "o", left, r"$\lambda<\lambda_c$"),
                                   (above, "s", right, r"$\lambda>\lambda_c$")):
            dx = np.log10(np.abs(lc - c["lam"][m]))
            ax_d.plot(dx, np.log10(c["Pi_d"][m]), mk, ms=3, color=col, alpha=0.6,
                      mfc="none" if mk == "s" else col,
                      label=(f"{name}, slope {slope.slope:.3f} (rms {slope.rms:.0e} dec)"
                   if np.isfinite(slope.slope) else name))
            rel = np.abs(lc - c["lam"][m]) / lc
            fsel = (rel >= fit_window[0]) & (rel <= fit_window[1])
            if np.isfinite(slope.slope) and fsel.sum() >= 3:
                p = np.polyfit(dx[fsel], np.log10(c["Pi_d"][m][fsel]), 1)
                xx = np.array([dx[fsel].min(), dx[fsel].max()])
                ax_d.plot(xx, np.polyval(p, xx), "-" if mk == "o" else "--", color="k", lw=1)
    for ax in (ax_a, ax_b, ax_c):
        ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
        ax.set_xlabel(r"$\lambda/\lambda_c$")
    ax_a.set_ylabel(r"$\Pi_U$")
    ax_b.set_ylabel(r"$d\Pi_U/d\lambda$ (jax.jvp)")
    ax_c.set_ylabel(r"$\Pi_d$")
    ax_c.set_yscale("log")
    ax_d.set_xlabel(r"$\log_{10}|\lambda_c-\lambda|$")
    ax_d.set_ylabel(r"$\log_{10}\Pi_d$")
    ax_a.legend(fontsize=7, loc="best")
    ax_d.legend(fontsize=7, loc="best",
                title=f"fit: |Δλ|/λc in [{fit_window[0]:g}, {fit_window[1]:g}]", title_fontsize=7)
    for ax, tag in zip(axes.flat, "abcd"):
        ax.set_title(f"({tag})", loc="left", fontsize=10)
    lcs = sorted(set(np.round(cols["lam_c"], 12)))
    fig.suptitle(r"Open Dicke model, Wehrl entropy production (GFL20 Fig. 3); "
                 + r"$\lambda_c$ = " + ", ".join(f"{v:.6g}" for v in lcs), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path, fits
