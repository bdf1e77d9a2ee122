"""Figures without pyplot: the plotting functions save files and must not switch the user's
matplotlib backend (e.g. in a notebook) or leave figures registered with pyplot."""

from __future__ import annotations


def subplots(*args, figsize=None, constrained_layout: bool = False, **kwargs):
    """Like ``plt.subplots`` but backend-free: a bare :class:`~matplotlib.figure.Figure`, which
    ``savefig`` renders with the Agg canvas on any machine (no display needed)."""
    # imported here: a plotting module is imported by its command long before it draws, and
    # matplotlib (0.6 s) is then often loaded by another process (jaxent.plotting.worker)
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    return fig, fig.subplots(*args, **kwargs)
