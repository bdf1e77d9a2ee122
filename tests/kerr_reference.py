r"""Independent high-precision (mpmath) reference for the exact NESS moments of the
driven-dissipative Kerr oscillator and their parameter derivatives.

Model: $H = \Delta a^\dagger a + \frac U2 a^{\dagger2}a^2 + iE(a^\dagger - a)$, loss
$2\kappa\mathcal D[a]$, $E = \epsilon\sqrt N$, $U = u/N$. Drummond-Walls complex-P moments
([GFL-quench, Eq. (6)], corrected):

$$\langle a^{\dagger n}a^m\rangle = \frac{\bar\xi^n\xi^m}{(\bar x)_n(x)_m}
  \frac{{}_0F_2(\bar x+n, x+m; z)}{{}_0F_2(\bar x, x; z)},\quad
  \xi = \frac{2E}{iU},\ x = \frac{2(i\Delta+\kappa)}{iU},\ z = 2|\xi|^2 .$$

In terms of the parameters: $\xi = -2i\epsilon N^{3/2}/u$, $x = 2N(\Delta - i\kappa)/u$,
$z = 8\epsilon^2N^3/u^2$.

The series $F(p,q;z) = \sum_k t_k$, $t_k = z^k/(k!(p)_k(q)_k)$ is summed directly in mpmath
(this is independent of jaxent's log-space float64 summation and of ``mpmath.hyper``, which
is used only as a cross-check in the tests). Its derivatives are summed alongside, analytically:

$$\partial_p F = -\sum_k t_k H_k(p),\quad H_k(p) = \sum_{j<k}\frac1{p+j},\qquad
  \partial_z F = \sum_k \frac{k}{z} t_k ,$$

and $F$ is holomorphic in $p, q$, so for a real parameter $P$:
$dF/dP = F_p\,dp/dP + F_q\,dq/dP + F_z\,dz/dP$ with $d\bar x/dP = \overline{dx/dP}$.

Public functions: :func:`exact_moments_mp`, :func:`exact_moment_derivatives_mp` (both
``lru_cache``d in-process; nothing is cached on disk).
"""

from __future__ import annotations

import functools

import mpmath as mp

PARAMS = ("eps", "N", "kappa", "delta", "u")
MOMENTS = ("n", "a_re", "a_im")


def _series(p, q, z, with_derivs: bool):
    """``(F, F_p, F_q, F_z)`` of ${}_0F_2(;p,q;z)$ at the current mpmath precision (derivatives
    ``None`` unless ``with_derivs``). Sums until the terms (times the growth of the derivative
    weights) are below ``eps_mach * 2^-20`` relative to the sum, past the peak."""
    tol = mp.eps * mp.mpf(2) ** -20
    t = mp.mpc(1)
    S = mp.mpc(0)
    Sp = Sq = Sz = mp.mpc(0)
    Hp = Hq = mp.mpc(0)
    k = 0
    while True:
        S += t
        if with_derivs:
            Sp -= t * Hp
            Sq -= t * Hq
            Sz += k * t
        # next term
        pk, qk = p + k, q + k
        r = z / ((k + 1) * pk * qk)
        if with_derivs:
            Hp += 1 / pk
            Hq += 1 / qk
        t *= r
        k += 1
        at = abs(t)
        if abs(r) < 0.5 and at * (k + 1) * (abs(Hp) + abs(Hq) + 1) < tol * abs(S):
            break
        if k > 10_000_000:  # pragma: no cover - would mean a bug
            raise RuntimeError("0F2 series did not converge")
    if not with_derivs:
        return S, None, None, None
    return S, Sp, Sq, Sz / z


def _core(eps, N, kappa, delta, u, with_derivs: bool):
    """Moments (and their derivatives w.r.t. :data:`PARAMS`) at the current mp precision for
    mpf inputs."""
    one = mp.mpf(1)
    xi = -2j * eps * N * mp.sqrt(N) / u
    x = 2 * N * mp.mpc(delta, -kappa) / u
    xb = mp.conj(x)
    z = 8 * eps**2 * N**3 / u**2
    F00 = _series(xb, x, z, with_derivs)
    F01 = _series(xb, x + 1, z, with_derivs)
    F11 = _series(xb + 1, x + 1, z, with_derivs)
    a = xi / x * F01[0] / F00[0]
    n = mp.re(xi * mp.conj(xi) / (x * xb) * F11[0] / F00[0])
    out = {"a": a, "n": n, "derivs": None}
    if not with_derivs:
        return out
    # d(log xi), dx, dz per parameter (dxb = conj(dx) for real parameters)
    dlogxi = {"eps": one / eps, "N": mp.mpf(3) / (2 * N), "kappa": mp.mpf(0),
              "delta": mp.mpf(0), "u": -one / u}
    dx = {"eps": mp.mpc(0), "N": x / N, "kappa": mp.mpc(0, -2) * N / u,
          "delta": mp.mpc(2) * N / u, "u": -x / u}
    dz = {"eps": 2 * z / eps, "N": 3 * z / N, "kappa": mp.mpf(0), "delta": mp.mpf(0),
          "u": -2 * z / u}

    def dlogF(F, P):
        val, fp, fq, fz = F
        return (fp * mp.conj(dx[P]) + fq * dx[P] + fz * dz[P]) / val

    derivs = {}
    for P in PARAMS:
        dla = dlogxi[P] - dx[P] / x + dlogF(F01, P) - dlogF(F00, P)
        dln = (2 * mp.re(dlogxi[P]) - 2 * mp.re(dx[P] / x)
               + mp.re(dlogF(F11, P) - dlogF(F00, P)))
        da = a * dla
        derivs[("n", P)] = n * dln
        derivs[("a_re", P)] = mp.re(da)
        derivs[("a_im", P)] = mp.im(da)
    out["derivs"] = derivs
    return out


def _mpf_args(eps, N, kappa, delta, u):
    return tuple(mp.mpf(v) for v in (eps, N, kappa, delta, u))


@functools.lru_cache(maxsize=None)
def _cached(eps, N, kappa, delta, u, dps, with_derivs):
    with mp.workdps(dps + 10):
        r = _core(*_mpf_args(eps, N, kappa, delta, u), with_derivs)
    return r


def _key(eps, N, kappa, delta, u):
    return tuple(float(v) for v in (eps, N, kappa, delta, u))


def exact_moments_mp(eps, N, kappa=0.5, delta=-2.0, u=1.0, dps=50) -> dict:
    r"""Exact NESS moments at ``dps`` digits: ``{"a": mpc <a>, "n": mpf <a^dag a>}``.

    Parameters are taken as float64 values (converted exactly to mpf); the series are summed
    with ``dps + 10`` working digits. Cached in-process.
    """
    r = _cached(*_key(eps, N, kappa, delta, u), int(dps), False)
    return {"a": r["a"], "n": r["n"]}


def exact_moment_derivatives_mp(eps, N, kappa=0.5, delta=-2.0, u=1.0,
                                params=("eps", "kappa", "delta", "u"), dps=50) -> dict:
    r"""Analytic derivatives of the exact moments: ``{(moment, param): mpf}`` for moments
    ``"n"``, ``"a_re"``, ``"a_im"`` and ``params`` among ``"eps", "N", "kappa", "delta", "u"``.

    Obtained by summing the differentiated series (see module docstring) at ``dps + 10``
    digits; checked against ``mpmath.diff`` in ``tests/test_kerr_reference.py``. Cached.
    """
    bad = [p for p in params if p not in PARAMS]
    if bad:
        raise ValueError(f"unknown parameters {bad}; choose from {PARAMS}")
    r = _cached(*_key(eps, N, kappa, delta, u), int(dps), True)
    return {(m, p): r["derivs"][(m, p)] for m in MOMENTS for p in params}


def exact_moments_numdiff_mp(eps, N, kappa=0.5, delta=-2.0, u=1.0,
                             params=("eps", "kappa", "delta", "u"), dps=40) -> dict:
    r"""Same as :func:`exact_moment_derivatives_mp` but by ``mpmath.diff`` (numerical,
    extrapolated, at raised precision) of the moments: an independent check of the analytic
    derivative sums. Slower; not cached."""
    base = dict(zip(PARAMS, _mpf_args(eps, N, kappa, delta, u)))
    out = {}
    with mp.workdps(dps + 10):
        for P in params:
            def f(v, P=P):
                args = dict(base)
                args[P] = v
                r = _core(args["eps"], args["N"], args["kappa"], args["delta"], args["u"],
                          False)
                return r["a"]
            def fn(v, P=P):
                args = dict(base)
                args[P] = v
                return _core(args["eps"], args["N"], args["kappa"], args["delta"], args["u"],
                             False)["n"]
            da = mp.diff(f, base[P])
            out[("n", P)] = mp.diff(fn, base[P])
            out[("a_re", P)] = mp.re(da)
            out[("a_im", P)] = mp.im(da)
    return out


def exact_moments_hyper_mp(eps, N, kappa=0.5, delta=-2.0, u=1.0, dps=50) -> dict:
    """``<a>``, ``<n>`` with ``mpmath.hyper([], [b1, b2], z)`` instead of the own series sum
    (cross-check of :func:`_series`). Not cached."""
    with mp.workdps(dps + 10):
        eps, N, kappa, delta, u = _mpf_args(eps, N, kappa, delta, u)
        xi = -2j * eps * N * mp.sqrt(N) / u
        x = 2 * N * mp.mpc(delta, -kappa) / u
        xb = mp.conj(x)
        z = 8 * eps**2 * N**3 / u**2
        F00 = mp.hyper([], [xb, x], z)
        F01 = mp.hyper([], [xb, x + 1], z)
        F11 = mp.hyper([], [xb + 1, x + 1], z)
        return {"a": xi / x * F01 / F00,
                "n": mp.re(xi * mp.conj(xi) / (x * xb) * F11 / F00)}
