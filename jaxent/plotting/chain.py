"""MSCPL19 Figs. 2 and 3 for the harmonic chain with self-consistent reservoirs.

Fig. 2: NESS occupation profiles <a_k^dag a_k> vs site k (computed here from
:func:`jaxent.models.chain.chain_ness`). Fig. 3: Pi_r and Pi_sc vs L (log-log) from the
``chain`` command's CSV, with fitted exponents, continued to large L to show the slow crossover
to Pi_r ~ L^-2 and Pi_sc ~ L^-1.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import ArrayLike

from jaxent.plotting._figure import subplots


def fit_exponent(L: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of log y vs log L (the exponent of y ~ L^slope)."""
    L = np.asarray(L, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(np.polyfit(np.log(L), np.log(y), 1)[0])


def chain_curves(L_values: ArrayLike, gamma: float, Gamma: float, lam: float, n1: float,
                 nL: float) -> dict[str, np.ndarray]:
    """Pi_r, Pi_sc and Pi_NESS at each L (one compilation for all sizes)."""
    from jaxent.models.chain import chain_points

    L = np.asarray(L_values, dtype=int)
    one = np.ones(len(L))
    r = chain_points(L, gamma * one, Gamma * one, lam * one, n1 * one, nL * one)
    return {"L": L, "Pi_r": r["Pi_r"], "Pi_sc": r["Pi_sc"], "Pi_NESS": r["Pi_NESS"]}


def plot_chain_fig2(path: str | os.PathLike, n1: float = 1.0, nL: float = 2.0,
                    gamma: float = 1e-5) -> str:
    """MSCPL19 Fig. 2: occupation profiles. Parameters as in the caption (gamma = 1e-5,
    L = 10 in (a)-(c), lambda = 1e-5 in (c), (d), Gamma = 1e-6 in (b), (d)); the caption does
    not list the lambda values of (a), (b), the Gamma values of (c), the sizes of (d) nor
    n1, nL, so those are chosen here (n1, nL default to the Fig. 3 values 1 and 2)."""
    import matplotlib

    from jaxent.models.chain import chain_occupations

    fig, ax = subplots(2, 2, figsize=(9, 7), constrained_layout=True)
    cmap = matplotlib.colormaps.get_cmap("viridis")
    lams = [1e-6, 3e-6, 1e-5, 1e-4]
    Gammas = [0.0, 1e-7, 1e-6, 1e-5]
    sizes = [10, 20, 50, 100]
    # (panel, L, Gamma, lam, label) for every curve; all profiles in one batched solve
    curves = ([(0, 10, 0.0, lam, rf"$\lambda$ = {lam:.0e}") for lam in lams]
              + [(1, 10, 1e-6, lam, rf"$\lambda$ = {lam:.0e}") for lam in lams]
              + [(2, 10, G, 1e-5, rf"$\Gamma$ = {G:.0e}" if G else r"$\Gamma$ = 0")
                 for G in Gammas]
              + [(3, L, 1e-6, 1e-5, f"L = {L}") for L in sizes])
    n = len(curves)
    profiles = chain_occupations([c[1] for c in curves], [gamma] * n, [c[2] for c in curves],
                                 [c[3] for c in curves], [n1] * n, [nL] * n)
    panels = [ax[0, 0], ax[0, 1], ax[1, 0], ax[1, 1]]
    count = [0, 0, 0, 0]
    for (ip, L, _, _, label), N in zip(curves, profiles):
        k = np.arange(1, L + 1)
        xk = (k - 1) / (L - 1) if ip == 3 else k
        panels[ip].plot(xk, N, "o-", ms=4 if ip < 3 else 3, color=cmap(0.85 * count[ip] / 3),
                        label=label)
        count[ip] += 1
    titles = [r"(a) $\Gamma = 0$ (ballistic), $L = 10$", r"(b) $\Gamma = 10^{-6}$, $L = 10$",
              r"(c) $\lambda = 10^{-5}$, $L = 10$", r"(d) $\lambda = 10^{-5}$, $\Gamma = 10^{-6}$"]
    for a, t in zip(panels, titles):
        a.set_title(t, loc="left", fontsize=10)
    for a in ax.flat:
        a.set_ylabel(r"$\langle a_k^\dagger a_k\rangle$")
        a.set_xlabel("site k")
        a.axhline(n1, color="0.8", lw=0.8, zorder=0)
        a.axhline(nL, color="0.8", lw=0.8, zorder=0)
        a.legend(fontsize=8)
    ax[1, 1].set_xlabel("(k - 1)/(L - 1)")
    # Each panel varies lambda, Gamma or L itself, so a sweep's --Gamma/--lam cannot apply here;
    # the title says so, rather than leaving a reader to think they did.
    fig.suptitle(rf"MSCPL19 Fig. 2: NESS occupations at the caption's parameters ($\gamma$ = "
                 rf"{gamma:g}, $n_1$ = {n1:g}, $n_L$ = {nL:g}; $\Gamma$, $\lambda$, L per panel)",
                 fontsize="medium")  # the default size filled the figure's width edge to edge
    fig.savefig(path, dpi=130)
    return os.fspath(path)


def plot_chain_fig3(data: dict[str, list], path: str | os.PathLike, n_fit: int = 3,
                    extend_to: int = 10_000, max_sets: int = 4) -> tuple[str, list[dict]]:
    """MSCPL19 Fig. 3 from the ``chain`` CSV columns: Pi_r (red dots) and Pi_sc (blue squares)
    vs L on log-log axes, one parameter set (gamma, Gamma, lam, n1, nL) per style (at most
    ``max_sets``). Exponents are fitted over the ``n_fit`` largest L of the table, and the
    curves are continued (lines) to ``extend_to`` with the local exponents over
    [extend_to/5, extend_to] quoted as well, since the approach to L^-2 and L^-1 is slow.

    Returns (path, one dict per plotted set with the fitted exponents).
    """
    cols = {k: np.asarray(v, dtype=float) for k, v in data.items()
            if k in ("L", "gamma", "Gamma", "lam", "n1", "nL", "Pi_r", "Pi_sc", "Pi_NESS")}
    keys = np.stack([cols[k] for k in ("gamma", "Gamma", "lam", "n1", "nL")], -1)
    sets = [tuple(s) for s in np.unique(keys, axis=0)][:max_sets]
    fig, ax = subplots(figsize=(6.4, 4.8), constrained_layout=True)
    fits = []
    markers = ["o", "^", "D", "v"]
    for i, s in enumerate(sets):
        m = np.all(keys == np.asarray(s), axis=1)
        order = np.argsort(cols["L"][m])
        L = cols["L"][m][order]
        Pr, Psc = cols["Pi_r"][m][order], cols["Pi_sc"][m][order]
        gamma, Gamma, lam, n1, nL = s
        fit = {"gamma": gamma, "Gamma": Gamma, "lam": lam, "n1": n1, "nL": nL}
        ok = (Pr > 0) & (Psc > 0)
        k = min(n_fit, int(ok.sum()))
        if k >= 2:
            fit["L_fit"] = (float(L[ok][-k]), float(L[ok][-1]))
            fit["exp_r"] = fit_exponent(L[ok][-k:], Pr[ok][-k:])
            fit["exp_sc"] = fit_exponent(L[ok][-k:], Psc[ok][-k:])
        lab = ("" if len(sets) == 1
               else rf" ($\gamma$={gamma:g}, $\Gamma$={Gamma:g}, $\lambda$={lam:g})")
        ax.loglog(L, Pr, "o" if i == 0 else markers[i], color="tab:red", ms=6, ls="none",
                  label=r"$\Pi_r$" + (f", fit slope {fit['exp_r']:.2f}" if "exp_r" in fit else "")
                  + lab)
        ax.loglog(L, Psc, "s" if i == 0 else markers[i], color="tab:blue", ms=6, ls="none",
                  mfc="none" if i else None,
                  label=r"$\Pi_{sc}$" + (f", fit slope {fit['exp_sc']:.2f}" if "exp_sc" in fit
                                         else "") + lab)
        if Gamma > 0 and extend_to > L.max():
            lo = max(2, extend_to // 5)
            Lx = np.unique(np.concatenate([
                np.geomspace(max(2, L.min()), extend_to, 40).astype(int), [lo, extend_to]]))
            cur = chain_curves(Lx, gamma, Gamma, lam, n1, nL)
            far = np.isin(cur["L"], [lo, extend_to])
            fit["L_asym"] = (lo, extend_to)
            fit["exp_r_asym"] = fit_exponent(cur["L"][far], cur["Pi_r"][far])
            fit["exp_sc_asym"] = fit_exponent(cur["L"][far], cur["Pi_sc"][far])
            ax.loglog(cur["L"], cur["Pi_r"], "-", color="tab:red", lw=0.9, alpha=0.6,
                      label=rf"$\Pi_r$ continued; slope {fit['exp_r_asym']:.3f} at "
                            rf"L$\in$[{lo}, {extend_to}]" if i == 0 else None)
            ax.loglog(cur["L"], cur["Pi_sc"], "-", color="tab:blue", lw=0.9, alpha=0.6,
                      label=rf"$\Pi_{{sc}}$ continued; slope {fit['exp_sc_asym']:.3f} at "
                            rf"L$\in$[{lo}, {extend_to}]" if i == 0 else None)
        fits.append(fit)
    ax.set_xlabel("L")
    ax.set_ylabel("entropy production rate")
    if len(sets) == 1:
        gamma, Gamma, lam, n1, nL = sets[0]
        ax.set_title(rf"MSCPL19 Fig. 3: $\gamma$={gamma:g}, $\Gamma$={Gamma:g}, "
                     rf"$\lambda$={lam:g}, $n_1$={n1:g}, $n_L$={nL:g}", fontsize=9)
    else:
        ax.set_title("MSCPL19 Fig. 3", fontsize=10)
    if fits and "L_fit" in fits[0]:
        ax.text(0.02, 0.03, f"markers: table; fit over L in [{fits[0]['L_fit'][0]:g}, "
                f"{fits[0]['L_fit'][1]:g}]", transform=ax.transAxes, fontsize=7, color="0.3")
    ax.legend(fontsize=7, loc="upper right")
    fig.savefig(path, dpi=130)
    return os.fspath(path), fits
