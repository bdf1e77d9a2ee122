"""Host special functions (jaxent._special) against scipy.special."""

import numpy as np
import pytest
from scipy.special import gammainc, gammaincc, gammaln

from jaxent._special import log_factorial, poisson_tails

EPS = np.finfo(float).eps


def test_log_factorial_against_scipy():
    k = np.concatenate([np.arange(0, 3000), np.arange(3000, 200_000, 97)])
    ref = gammaln(k + 1.0)
    got = log_factorial(k)
    assert np.max(np.abs(got - ref) / np.maximum(1.0, ref)) < 4 * EPS
    # any shape, floats holding integers, and the table grown in between
    np.testing.assert_allclose(log_factorial(np.array([[3.0, 0.0], [1.0, 5.0]])),
                               gammaln(np.array([[4.0, 1.0], [2.0, 6.0]])), rtol=4 * EPS)
    assert log_factorial([]).shape == (0,)


@pytest.mark.parametrize("k", [-1, 2.5, [1, -3]])
def test_log_factorial_refuses_non_integers(k):
    with pytest.raises(ValueError, match="non-negative integers"):
        log_factorial(k)


@pytest.mark.parametrize("n_levels", [1, 5, 64, 176, 400])
@pytest.mark.parametrize("x", [1e-3, 0.5, 3.0, 50.0, 150.0, 316.8, 900.0])
def test_poisson_tails_against_scipy(n_levels, x):
    """P(n+1, x) and Q(n+1, x): Q to its relative rounding eps (x + n |log x|) (it is a sum of
    exponentials of logs of that size), also where it is 1e-300; P = 1 - Q absolutely."""
    P, Q = poisson_tails(n_levels, x)
    n = np.arange(n_levels)
    tol = 8 * EPS * (1.0 + x + n * abs(np.log(x)))
    Pr, Qr = gammainc(n + 1.0, x), gammaincc(n + 1.0, x)
    assert np.all(np.abs(P - Pr) <= tol)
    resolved = Qr > 1e-300
    assert np.all(np.abs(Q - Qr)[resolved] <= tol[resolved] * Qr[resolved])
    assert np.all(Q[~resolved] < 1e-290)


def test_poisson_tails_edges():
    P, Q = poisson_tails(4, 0.0)  # the vacuum: never exceeds n
    np.testing.assert_array_equal(P, 0.0)
    np.testing.assert_array_equal(Q, 1.0)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="x must be finite"):
            poisson_tails(4, bad)
