"""Figures of KL (Figs. 2-6) from the tidy ``oscillators.csv`` written by ``jaxent oscillators``."""

from __future__ import annotations

import os

import numpy as np

from jaxent.plotting._figure import subplots

STYLE = {
    "local": dict(color="tab:orange", marker="s", ls="none", ms=3.5, label="local ME"),
    "global": dict(color="tab:blue", marker="o", ls="none", ms=3.5, label="global ME"),
    "langevin": dict(color="tab:green", ls="-", lw=1.8, label="Langevin (exact)"),
    "gibbs": dict(color="gold", ls="--", lw=1.8, label="Gibbs"),
}
NAMES = {"pp": "position-position", "rw": "rotating-wave"}


def _series(data, coupling, T1, T2, method, col):
    sel = [i for i in range(len(data["n1"])) if data["coupling"][i] == coupling
           and data["T1"][i] == T1 and data["T2"][i] == T2 and data["method"][i] == method]
    x = np.array([data["lam_over_lamc"][i] for i in sel])
    y = np.array([data[col][i] for i in sel])
    order = np.argsort(x)
    return x[order], y[order]


def _ratio(data, coupling, T1, T2, method):
    x, y = _series(data, coupling, T1, T2, method, "n1")
    xl, yl = _series(data, coupling, T1, T2, "langevin", "n1")
    common, i, j = np.intersect1d(x, xl, return_indices=True)
    return common, y[i] / yl[j]


def _pairs(data, coupling):
    return sorted({(data["T1"][i], data["T2"][i]) for i in range(len(data["n1"]))
                   if data["coupling"][i] == coupling})


def _equilibrium_panel(ax, data, coupling, T, col, ylabel):
    for meth in ("local", "global", "langevin", "gibbs"):
        x, y = _series(data, coupling, T, T, meth, col)
        if len(x):
            ax.plot(x, y, **STYLE[meth])
    ax.set_xlabel(r"$\lambda/\lambda_c$")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.set_title(f"{NAMES[coupling]}, $T_1=T_2={T:g}$")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def _equilibrium_figure(data, path, col, ylabel, T_base, title):
    couplings = [c for c in ("pp", "rw") if (T_base, T_base) in _pairs(data, c)]
    if not couplings:
        return None
    fig, axes = subplots(1, len(couplings), figsize=(5.2 * len(couplings), 4.0), squeeze=False)
    for ax, c in zip(axes[0], couplings):
        _equilibrium_panel(ax, data, c, T_base, col, ylabel)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path


def _ratio_panel(ax, data, coupling, pairs, title):
    import matplotlib

    cmap = matplotlib.colormaps.get_cmap("coolwarm")
    dts = [T2 - T1 for T1, T2 in pairs]
    span = max(abs(d) for d in dts) or 1.0
    for (T1, T2), dT in zip(pairs, dts):
        color = cmap(0.5 + 0.45 * dT / span)
        for meth, mk, ls in (("local", "s", ":"), ("global", "o", "-")):
            x, r = _ratio(data, coupling, T1, T2, meth)
            if len(x):
                ax.plot(x, r, marker=mk, ms=3, ls=ls, lw=0.8, color=color,
                        label=f"{meth}, $\\Delta T={dT:+g}$")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel(r"$\lambda/\lambda_c$")
    ax.set_ylabel(r"$\langle a_1^\dagger a_1\rangle_{ME}"
                  r" / \langle a_1^\dagger a_1\rangle_{Langevin}$")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)


def _ratio_figure(data, path, coupling, groups, suptitle):
    groups = [(t, p) for t, p in groups if p]
    if not groups:
        return None
    fig, axes = subplots(1, len(groups), figsize=(5.6 * len(groups), 4.4), squeeze=False)
    for ax, (t, p) in zip(axes[0], groups):
        _ratio_panel(ax, data, coupling, p, t)
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path


def plot_all(data, out_dir, T_base=98.0, T_low=1.96) -> list[str]:
    """Write ``oscillators_fig{2..6}.png`` into ``out_dir``; returns the paths written.

    Fig. 2: ``<a1^dag a1>`` at ``Delta T = 0`` (all four methods); Fig. 3 (pp) / Fig. 4 (rw):
    ratios to Langevin for ``Delta T > 0`` at high (``T1 = T_base``) and low (``T2 = T_low``)
    temperature; Fig. 5: mutual information at ``Delta T = 0``; Fig. 6: ratios for both signs
    of ``Delta T`` at high temperature.
    """
    written = []
    p = _equilibrium_figure(data, os.path.join(out_dir, "oscillators_fig2.png"), "n1",
                            r"$\langle a_1^\dagger a_1\rangle_{ss}$", T_base,
                            "KL Fig. 2: steady-state occupation of oscillator 1, $\\Delta T=0$")
    written += [p] if p else []
    p = _equilibrium_figure(data, os.path.join(out_dir, "oscillators_fig5.png"), "mutual_info",
                            r"mutual information $I(\rho_{ss})$ [nats]", T_base,
                            "KL Fig. 5: mutual information, $\\Delta T=0$")
    written += [p] if p else []
    for c, num in (("pp", 3), ("rw", 4)):
        pairs = [pr for pr in _pairs(data, c) if pr[0] != pr[1]]
        high = [pr for pr in pairs if pr[0] == T_base and pr[1] > pr[0]]
        low = [pr for pr in pairs if pr[1] == T_low and pr[0] < T_low]
        p = _ratio_figure(data, os.path.join(out_dir, f"oscillators_fig{num}.png"), c,
                          [(f"(a) high T: $T_1={T_base:g}$, $T_2=T_1+\\Delta T$", high),
                           (f"(b) low T: $T_2={T_low:g}$, $T_1=T_2-\\Delta T$", low)],
                          f"KL Fig. {num}: {NAMES[c]} coupling")
        written += [p] if p else []
    groups = []
    for c in ("pp", "rw"):
        pairs = [pr for pr in _pairs(data, c) if pr[0] != pr[1]
                 and (pr[0] == T_base or pr[1] == T_base)]
        groups.append((f"{'(a)' if c == 'pp' else '(b)'} {NAMES[c]}", pairs))
    fig_groups = [(t, p_) for t, p_ in groups if p_]
    if fig_groups:
        fig, axes = subplots(1, len(fig_groups), figsize=(5.6 * len(fig_groups), 4.4),
                                 squeeze=False)
        kinds = [c for c, (_, q) in zip(("pp", "rw"), groups) if q]
        for ax, (t, p_), c in zip(axes[0], fig_groups, kinds):
            _ratio_panel(ax, data, c, p_, t)
        fig.suptitle(f"KL Fig. 6: sign of $\\Delta T$ ($\\Delta T>0$: $T_1={T_base:g}$; "
                     f"$\\Delta T<0$: $T_2={T_base:g}$)", fontsize=10)
        fig.tight_layout()
        path = os.path.join(out_dir, "oscillators_fig6.png")
        fig.savefig(path, dpi=130)
        written.append(path)
    return written
