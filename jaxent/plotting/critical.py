"""Figures of ``jaxent critical``: pseudo-critical points against 1/N with their extrapolation
(Kerr), and the divergence of Pi_d with its exponent and the gamma shift (Dicke)."""

from __future__ import annotations

import numpy as np

from jaxent.plotting._figure import subplots

_STYLE = {"Pi_d": ("C0", "o", r"max $\Pi_d/N$ (NESS)"),
          "susceptibility": ("C1", "s", r"max $\partial_\epsilon(n/N)$ (exact moments)"),
          "susceptibility_large_N": ("C2", "^", r"max $\partial_\epsilon(n/N)$, large $N$"),
          "gap": ("C3", "v", r"min Liouvillian gap")}


def plot_kerr_critical(result: dict, path: str, paper_value: float = 0.933) -> str:
    """``result`` of :func:`jaxent.studies.critical.kerr_critical` -> PNG at ``path``:
    (a) eps*(N) against 1/N with the chosen 1/N-polynomial fits and the extrapolated eps_c;
    (b) the extrapolated values with their error bars, relative to the most precise one."""
    fig, (a, b) = subplots(1, 2, figsize=(11, 4.2), constrained_layout=True,
                           gridspec_kw={"width_ratios": [1.6, 1]})
    fits = result["fits"]
    for name, r in result["peaks"].items():
        color, marker, label = _STYLE.get(name, ("k", "x", name))
        ok = np.asarray(r["success"], bool)
        x = 1.0 / np.asarray(r["N"], float)
        a.plot(x[ok], r["x"][ok], marker, color=color, ms=5, label=label)
        if (~ok).any():
            a.plot(x[~ok], r["x"][~ok], "x", color=color, ms=7,
                   label=f"{label}: not converged / unresolved")
        if name in fits:
            e = fits[name]
            xs = np.linspace(1e-9, x.max(), 200)
            a.plot(xs, e.model(1.0 / xs), "-", color=color, lw=1, alpha=0.8)
            a.plot([0.0], [e.value], "D", color=color, ms=6)
    a.axhline(paper_value, color="gray", ls="--", lw=1, label=f"GFL-quench: {paper_value}")
    a.set_xlabel("1/N")
    a.set_ylabel(r"$\epsilon^*(N)$")
    a.set_title(r"(a) pseudo-critical pumps, fits in $1/N$, and $N\to\infty$ (diamonds)")
    a.legend(fontsize=8)
    if fits:
        # error bars span orders of magnitude: compare each definition's |eps_c - reference|
        # (reference: the most precise) with its error bar on a log scale
        ref = min(fits.values(), key=lambda e: e.stderr)
        names = list(fits)
        floor = 1e-12
        for k, name in enumerate(names):
            e = fits[name]
            color = _STYLE.get(name, ("k",))[0]
            b.bar([k], [e.stderr], color=color, alpha=0.35, width=0.6)
            dev = abs(e.value - ref.value)
            if e is not ref:
                b.plot([k], [max(dev, floor)], "D", color=color, ms=7)
            else:
                b.annotate("reference", (k, e.stderr), textcoords="offset points",
                           xytext=(0, -14), ha="center", fontsize=7)
            b.annotate(f"{e.value:.7f}\n$\\pm${e.stderr:.0e}", (k, e.stderr),
                       textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
        b.set_yscale("log")
        b.set_ylim(floor / 3, 10 * max(e.stderr for e in fits.values()))
        b.set_xticks(range(len(names)), [_STYLE.get(n, (0, 0, n))[2] for n in names],
                     rotation=15, fontsize=7)
        b.set_ylabel(r"bar: error bar;  ◆: $|\epsilon_c - %.7f|$" % ref.value)
        b.set_title(r"(b) $\epsilon_c$: consistent where ◆ < bar", fontsize=11)
    fig.savefig(path, dpi=130)
    return path


def plot_dicke_critical(result: dict, path: str) -> str:
    """``result`` of :func:`jaxent.studies.critical.dicke_critical` -> PNG at ``path``:
    (a) Pi_d against 1 - lambda/lambda_* (log-log) with the fitted power law; (b) the
    instability shift lambda_*(gamma)/lambda_c - 1 against gamma, with the closed form."""
    fig, (a, b) = subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ex = result["exponent"]
    x = np.asarray(ex["x"])
    a.loglog(x, np.exp(ex["log_pi_d"]), "o", ms=4, label=r"$\Pi_d$ (Gaussian NESS)")
    fitted = np.exp(ex["c"] + ex["nu"] * np.log(x) + ex["d"] * x)
    a.loglog(x, fitted, "-", lw=1,
             label=f"fit: $\\nu$ = {ex['nu']:.6f} $\\pm$ {ex['stderr']:.0e}")
    a.set_xlabel(r"$1 - \lambda/\lambda_*$")
    a.set_ylabel(r"$\Pi_d$")
    a.set_title(r"(a) divergence of $\Pi_d$ below $\lambda_*$")
    a.legend(fontsize=8)
    inst = result["instability"]
    g = np.asarray(inst["gamma"])
    b.loglog(g, inst["x"] / inst["lam_c"] - 1.0, "o", label=r"located $\lambda_*(\gamma)$")
    gs = np.geomspace(g.min(), g.max(), 100)
    omega0 = result.get("omega0", 0.005)
    b.loglog(gs, np.sqrt(1.0 + (gs / omega0) ** 2) - 1.0, "-", lw=1,
             label=r"$\sqrt{1+\gamma^2/\omega_0^2} - 1$")
    b.set_xlabel(r"$\gamma$")
    b.set_ylabel(r"$\lambda_*/\lambda_c - 1$")
    b.set_title(r"(b) shift of the instability with $\gamma$")
    b.legend(fontsize=8)
    fig.savefig(path, dpi=130)
    return path
