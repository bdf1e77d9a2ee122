r"""Special functions on the host (numpy) for the few places that need them outside JAX: the
log-factorial and the regularised incomplete gamma function at integer order. Accurate to
float64 rounding, and without scipy, whose ``scipy.special`` import (0.14 s on the 2-core CI
machine) every command would otherwise pay."""

from __future__ import annotations

import math

import numpy as np

# log k! for k = 0 .. len - 1, from math.lgamma; grown on demand (a sweep asks for the same
# range once per point)
_TABLE = np.zeros(1)


def log_factorial(k) -> np.ndarray:
    r"""$\log k!$ for non-negative integers ``k`` (any shape; floats holding integers are
    accepted): ``math.lgamma(k + 1)``, looked up in a table that grows to the largest ``k``
    asked for."""
    global _TABLE
    k = np.asarray(k)
    if k.size == 0:
        return np.zeros(k.shape)
    if not (np.all(k >= 0) and np.all(k == np.round(k))):
        raise ValueError("log_factorial: k must be non-negative integers")
    ki = k.astype(np.int64)
    top = int(ki.max())
    if top >= _TABLE.size:
        _TABLE = np.array([math.lgamma(j + 1.0) for j in range(max(top + 1, 2 * _TABLE.size))])
    return _TABLE[ki]


def poisson_tails(n_levels: int, x: float) -> tuple[np.ndarray, np.ndarray]:
    r"""The regularised incomplete gamma functions $P(n+1, x)$ and $Q(n+1, x) = 1 - P(n+1, x)$
    for $n = 0 \dots$ ``n_levels - 1`` and $x \ge 0$: for a Poisson variable of mean $x$, the
    probabilities of exceeding $n$ ($P$) and of not exceeding it ($Q$).

    $Q(n+1, x) = e^{-x}\sum_{k\le n} x^k/k!$ is a finite sum of positive terms, accumulated in
    log space, so it keeps its relative accuracy where it is tiny; that accuracy is the
    rounding of the logs, about $\epsilon\,(x + n|\log x|)$ ($6\times10^{-13}$ at $x = 900$).
    $P$ is $1 - Q$, with the same error in absolute terms (its use: a disc mass compared in
    absolute terms with the quadrature, to a tolerance of $10^{-10}$). Checked against
    ``scipy.special.gammainc`` / ``gammaincc`` (tests).
    """
    n = np.arange(int(n_levels), dtype=np.float64)
    x = float(x)
    if not (x >= 0 and math.isfinite(x)):
        raise ValueError(f"poisson_tails: x must be finite and >= 0, got {x}")
    if x == 0.0:
        return np.zeros(n.size), np.ones(n.size)
    log_terms = n * math.log(x) - log_factorial(n) - x
    Q = np.exp(np.logaddexp.accumulate(log_terms))
    return 1.0 - Q, Q
