r"""Kerr bistability model: parameters, Liouvillian pieces, structured NESS and exact moments.

Master equation [GFL20, Eqs. (11), (B1)]; [GFL-quench, Eqs. (2)-(3)]:

$$\dot\rho = -i[H,\rho] + 2\kappa\,\mathcal D[a]\rho,\qquad
  H = \Delta a^\dagger a + \frac{u}{2N}a^{\dagger 2}a^2 + i\epsilon\sqrt N(a^\dagger - a),$$

with $\mathcal D[a]\rho = a\rho a^\dagger - \frac12\{a^\dagger a,\rho\}$, pump
$E = \epsilon\sqrt N$ and
nonlinearity $U = u/N$; the thermodynamic limit is $N\to\infty$ at fixed $\epsilon, u$, and the
order parameter is $\alpha = \langle a\rangle/\sqrt N$. Defaults $\kappa = 1/2$, $\Delta = -2$,
$u = 1$.

Truncation: ``nmax`` is the Hilbert-space dimension (Fock states ``|0>..|nmax-1>``, like QuTiP's
``N``). It sets array shapes, so it is a static Python int and never a field of :class:`Kerr`.
"""

from __future__ import annotations

import functools
import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from jaxent._special import log_factorial
from jaxent._validation import static_int
from jaxent.fock.operators import create, destroy, number
from jaxent.fock.truncation import TruncationWarning, check_truncation, tail_population
from jaxent.lindblad import (
    BandedElimination,
    BandedLindbladian,
    ExactMoment,
    NestedDissection,
    SteadyState,
    steady_state,
)
from jaxent.resources import banded_memory_bytes, check_memory, exact_state_memory_bytes
from jaxent.tolerances import PIN_TOL, RESOLVE_TOL, TAIL_TOL  # noqa: F401 - PIN_TOL re-exported


def _f64_named(name):
    def convert(x):
        if x is None or isinstance(x, (str, bytes)) or np.iscomplexobj(x):
            raise ValueError(f"{name} must be a real number, got {x!r}")
        try:
            if isinstance(x, jax.Array):  # tracers included
                return jnp.asarray(x, dtype=jnp.float64)
            # a host number: device_put, not jnp.asarray, which compiles a conversion program
            # (once per process, 30 ms)
            return jax.device_put(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number, got {x!r}") from None

    return convert


def _concrete_float(x):
    if isinstance(x, Tracer):
        return None
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001 - abstract values of other kinds
        return None
    if arr.shape != ():
        return None
    return float(arr)


class Kerr(eqx.Module):
    r"""Parameters of the driven-dissipative Kerr oscillator [GFL20, Eq. (11)].

    Fields (all traced float64 scalars, so ``jax.grad``/``jax.vmap`` reach them): ``eps``
    (scaled pump $\epsilon$), ``N`` (size parameter, $E = \epsilon\sqrt N$, $U = u/N$; may be a
    non-integer float), ``kappa`` (loss $2\kappa\mathcal D[a]$), ``delta`` (detuning $\Delta$),
    ``u`` (scaled Kerr nonlinearity). Concrete values are validated on construction:
    ``ValueError`` naming the parameter for NaN/inf, ``kappa <= 0`` or ``N <= 0``.
    """

    eps: jax.Array = eqx.field(converter=_f64_named("eps"))
    N: jax.Array = eqx.field(converter=_f64_named("N"))
    kappa: jax.Array = eqx.field(converter=_f64_named("kappa"), default=0.5)
    delta: jax.Array = eqx.field(converter=_f64_named("delta"), default=-2.0)
    u: jax.Array = eqx.field(converter=_f64_named("u"), default=1.0)

    def __check_init__(self):
        for name in ("eps", "N", "kappa", "delta", "u"):
            val = getattr(self, name)
            if isinstance(val, Tracer):
                continue
            arr = np.asarray(val)
            if arr.ndim != 0:
                raise ValueError(f"{name} must be a scalar (use jax.vmap to batch), got shape "
                                 f"{arr.shape}")
            if not np.isfinite(arr):
                raise ValueError(f"{name} must be finite, got {float(arr)}")
        k, n = _concrete_float(self.kappa), _concrete_float(self.N)
        if k is not None and k <= 0:
            raise ValueError(f"kappa must be positive (loss rate 2*kappa), got {k}")
        if n is not None and n <= 0:
            raise ValueError(f"N must be positive, got {n}")

    @property
    def E(self):
        """Pump amplitude $E = \\epsilon\\sqrt N$."""
        return self.eps * jnp.sqrt(self.N)

    @property
    def U(self):
        """Kerr coefficient $U = u/N$ of $\\frac U2 a^{\\dagger 2}a^2$."""
        return self.u / self.N

    def is_concrete(self) -> bool:
        return all(_concrete_float(getattr(self, f)) is not None
                   for f in ("eps", "N", "kappa", "delta", "u"))

    def checked(self) -> "Kerr":
        """The same model with its traced parameters guarded by :func:`equinox.error_if`, so bad
        values met under ``jit``/``vmap`` raise an error naming the parameter (concrete values
        were already checked on construction)."""
        m = self
        for name in ("eps", "N", "kappa", "delta", "u"):
            m = eqx.tree_at(lambda t, name=name: getattr(t, name), m,
                            eqx.error_if(getattr(m, name), ~jnp.isfinite(getattr(m, name)),
                                         f"{name} must be finite"))
        m = eqx.tree_at(lambda t: t.kappa, m,
                        eqx.error_if(m.kappa, m.kappa <= 0,
                                     "kappa must be positive (loss 2 kappa)"))
        return eqx.tree_at(lambda t: t.N, m, eqx.error_if(m.N, m.N <= 0, "N must be positive"))


def _check_nmax(nmax) -> int:
    return static_int(nmax, "nmax", 2)


def kerr_hamiltonian(model: Kerr, nmax: int) -> jax.Array:
    r"""Dense
    $H = \Delta a^\dagger a + \frac{u}{2N}a^{\dagger2}a^2 + i\epsilon\sqrt N(a^\dagger - a)$
    on ``nmax`` Fock levels [GFL20, Eq. (11) + drive of Eq. (B1)]. ``(nmax, nmax)`` complex128.
    """
    nmax = _check_nmax(nmax)
    a, ad, n = destroy(nmax), create(nmax), number(nmax)
    return (model.delta * n + 0.5 * model.U * (ad @ ad @ a @ a)
            + 1j * model.E * (ad - a))


def kerr_jump_ops(model: Kerr, nmax: int) -> list[jax.Array]:
    r"""Collapse operators of $2\kappa\mathcal D[a]$: ``[sqrt(2 kappa) a]`` [GFL20, Eq. (B1)]."""
    nmax = _check_nmax(nmax)
    return [jnp.sqrt(2.0 * model.kappa) * destroy(nmax)]


def kerr_lindbladian(model: Kerr, nmax: int) -> BandedLindbladian:
    """The Kerr Lindbladian as a :class:`~jaxent.lindblad.BandedLindbladian` (no dense matrices):
    ``h_k = Delta k + (U/2) k (k-1)``, ``H_{k+1,k} = i E sqrt(k+1)``, jump ``sqrt(2 kappa) a``."""
    nmax = _check_nmax(nmax)
    k = jnp.arange(nmax, dtype=jnp.float64)
    h = model.delta * k + 0.5 * model.U * k * (k - 1.0)
    e = 1j * model.E * jnp.sqrt(k[1:])
    v = jnp.concatenate([jnp.sqrt(2.0 * model.kappa) * jnp.sqrt(k[1:]), jnp.zeros(1)])
    return BandedLindbladian(h_diag=h, h_low=e.astype(jnp.complex128),
                             jump_vals=(v.astype(jnp.complex128),), jump_offsets=(1,))


# ----------------------------------------------------------------------------------------------
# exact NESS moments (Drummond-Walls complex-P solution)


class KerrMoments(eqx.Module):
    r"""Exact normally ordered NESS moments (see :func:`kerr_exact_moments`).

    ``a`` $=\langle a\rangle$ (complex), ``n`` $=\langle a^\dagger a\rangle$,
    ``g2num`` $=\langle a^{\dagger2}a^2\rangle$, ``var_n``
    $=\langle n^2\rangle - \langle n\rangle^2$,
    ``series_tail``: magnitude of the last summed term relative to the sum (should be ~0).
    """

    a: jax.Array
    n: jax.Array
    g2num: jax.Array
    var_n: jax.Array
    series_tail: jax.Array


def _log_0f2(p, q, log_z, K: int):
    r"""$\log {}_0F_2(;p,q;z)$ for complex ``p, q`` and real ``z > 0`` by summing ``K`` terms in log
    space: $t_k = z^k/(k!\,(p)_k(q)_k)$, Pochhammer symbols from cumulative sums of complex logs.
    ``p`` and ``q`` may be arrays (broadcast together): one series per element, summed as one
    batch, so that the several series of :func:`kerr_exact_moments` compile as one program
    (four separate series took 0.72 s of XLA compilation at ``K = 4096``).
    Returns ``(log F, |t_{K-1}| / |F|)``, each of the broadcast shape of ``p, q``."""
    p, q = jnp.broadcast_arrays(jnp.asarray(p), jnp.asarray(q))
    j = jnp.arange(K - 1, dtype=jnp.float64)
    logpoch = jnp.concatenate([jnp.zeros(p.shape + (1,), jnp.complex128),
                               jnp.cumsum(jnp.log(p[..., None] + j) + jnp.log(q[..., None] + j),
                                          axis=-1)], axis=-1)
    k = jnp.arange(K, dtype=jnp.float64)
    # z^0 = 1 also at z = 0 (eps = 0), where k log z would be 0 * (-inf) = NaN
    lt = jnp.where(k == 0, 0.0, k * log_z) - jax.scipy.special.gammaln(k + 1.0) - logpoch
    m = jax.lax.stop_gradient(jnp.max(jnp.real(lt), axis=-1))
    s = jnp.sum(jnp.exp(lt - m[..., None]), axis=-1)
    logF = m + jnp.log(s)
    tail = jnp.exp(jnp.real(lt[..., -1]) - jnp.real(logF))
    return logF, tail


#: Longest exact-moment series summed (memory ``~ 64 bytes x terms``). A weaker nonlinearity
#: (or a huge N) needs more terms (``~ 6 |Delta + i kappa| N / |u|``); then no exact moment is
#: available: no pin (the weakly nonlinear NESS is well conditioned), no end-to-end check, and
#: ``choose_nmax`` uses the brightest mean-field branch.
MAX_TERMS = 1 << 17


def series_terms(model: Kerr) -> int | None:
    """Terms needed by :func:`kerr_exact_moments` for concrete parameters: three times the peak
    position ``|x| + z^(1/3)`` of the series, rounded up to a multiple of 512 (at least 1024).
    ``None`` when that exceeds :data:`MAX_TERMS` (a very weak nonlinearity, ``u -> 0``)."""
    eps, N = abs(float(model.eps)), float(model.N)
    kappa, delta, u = float(model.kappa), float(model.delta), float(model.u)
    E, U = eps * math.sqrt(N), abs(u) / N
    if U == 0:
        return None
    xabs = 2.0 * math.hypot(delta, kappa) / U
    z = 8.0 * (E / U) ** 2
    est = 3.0 * (xabs + z ** (1.0 / 3.0)) + 64
    if not math.isfinite(est) or est > MAX_TERMS:
        return None
    return int(max(1024, 512 * math.ceil(est / 512)))


def default_n_terms(model: Kerr | None = None) -> int:
    """Number of series terms for :func:`kerr_exact_moments`: :func:`series_terms` for concrete
    parameters, 4096 when they are traced (enough for ``N`` up to ~80 at ``eps <= 1.5``; the
    ``series_tail`` field tells when it was not). ``ValueError`` naming ``u`` when the
    nonlinearity is too weak for the series."""
    if model is None or not model.is_concrete():
        return 4096
    K = series_terms(model)
    if K is None:
        raise ValueError(f"u={float(model.u):g}: the exact Kerr moments need more than "
                         f"{MAX_TERMS} series terms for so weak a nonlinearity; use "
                         "linear_cavity_limit(model) (exact at u = 0) or pin=False")
    return K


def linear_cavity_limit(model: Kerr) -> jax.Array:
    r"""Coherent amplitude $\alpha = E/(\kappa + i\Delta)$ of the linear driven cavity ($u = 0$):
    from $\dot a = -(\kappa + i\Delta)a + E$ its NESS is the coherent state $|\alpha\rangle$,
    exactly.
    The Kerr NESS approaches it with relative corrections
    ``O(u |alpha|^2 / (N |kappa + i Delta|))``.
    """
    return model.E / (model.kappa + 1j * model.delta)


@functools.partial(jax.jit, static_argnames="n_terms")
def _exact_moments(eps, N, kappa, delta, u, n_terms: int):
    E = eps * jnp.sqrt(N)
    U = u / N
    xi = 2.0 * E / (1j * U)
    x = 2.0 * (1j * delta + kappa) / (1j * U)
    xb = jnp.conj(x)
    log_z = jnp.log(2.0) + 2.0 * jnp.log(jnp.abs(xi))
    # 0F2(xb + n, x + m) for (n, m) = (0, 0), (0, 1), (1, 1), (2, 2), as one batch
    F, tails = _log_0f2(jnp.stack([xb, xb, xb + 1.0, xb + 2.0]),
                        jnp.stack([x, x + 1.0, x + 1.0, x + 2.0]), log_z, n_terms)
    F00, F01, F11, F22 = F[0], F[1], F[2], F[3]
    log_xi = jnp.log(xi)
    a = jnp.exp(log_xi - jnp.log(x) + F01 - F00)
    n = jnp.real(jnp.exp(2.0 * jnp.real(log_xi) - jnp.log(x * xb) + F11 - F00))
    g2 = jnp.real(jnp.exp(4.0 * jnp.real(log_xi) - jnp.log(x * (x + 1.0) * xb * (xb + 1.0))
                          + F22 - F00))
    var = g2 + n - n**2
    tail = jnp.max(tails)
    return KerrMoments(a=a, n=n, g2num=g2, var_n=var, series_tail=tail)


def kerr_exact_moments(model: Kerr, n_terms: int | None = None) -> KerrMoments:
    r"""Exact NESS moments of the (untruncated) Kerr model, Drummond-Walls complex-P solution.

    [GFL-quench, Eq. (6)], corrected: the PDF text of Eq. (6) is garbled (a stray $\sqrt2$).
    The form used here, derived from the potential solution
    $P(\alpha,\beta)\propto\alpha^{x-2}\beta^{\bar x-2}e^{2\alpha\beta+\xi/\alpha+\bar\xi/\beta}$
    of the
    complex-P Fokker-Planck equation and checked against the numerical NESS to 1e-14, is

    $$\langle a^{\dagger n}a^m\rangle = \frac{\bar\xi^n\xi^m}{(\bar x)_n(x)_m}
      \frac{{}_0F_2(\bar x+n, x+m; 2|\xi|^2)}{{}_0F_2(\bar x, x; 2|\xi|^2)},\quad
      \xi = \frac{2E}{iU},\ x = \frac{2(i\Delta+\kappa)}{iU},$$

    i.e. the argument is $2|\xi|^2$ (that is where the stray 2 belongs), $E = \epsilon\sqrt N$,
    $U = u/N$, and $(y)_n$ the Pochhammer symbol. The series are summed in log space
    (:func:`_log_0f2`; the terms peak near $k\sim|x| + (2|\xi|^2)^{1/3}$, about 200 for N = 40).

    **Returns:** :class:`KerrMoments`. Differentiable in all parameters (except at ``eps = 0``).
    jit/vmap-able (``n_terms`` is static; default :func:`default_n_terms`).
    """
    K = default_n_terms(model) if n_terms is None else int(n_terms)
    return _exact_moments(model.eps, model.N, model.kappa, model.delta, model.u, n_terms=K)


def mean_field_bistability(kappa=0.5, delta=-2.0, u=1.0) -> tuple[float, float]:
    r"""Edges $(\epsilon_-, \epsilon_+)$ of the mean-field bistability window [GFL-quench, Eq. (5)];
    [GFL20, Eq. (B4)]:
    $\epsilon = \sqrt{n_\pm[\kappa^2 + (\Delta + n_\pm u)^2]}$,
    $n_\pm = (-2\Delta\pm\sqrt{\Delta^2 - 3\kappa^2})/(3u)$.

    Note the labels: $n_+$ (the larger photon number) gives the *lower* pump edge, so the result
    is returned sorted, ``eps_minus < eps_plus`` (0.701373, 1.16616 for the defaults).
    Requires ``delta < -sqrt(3) kappa`` (``ValueError`` otherwise: no bistability).
    """
    kappa, delta, u = float(kappa), float(delta), float(u)
    disc = delta**2 - 3.0 * kappa**2
    if not (delta * u < 0 and disc > 0):
        raise ValueError(f"delta={delta} gives no bistability (need delta*u < 0 and "
                         f"|delta| > sqrt(3) kappa)")
    ns = [(-2.0 * delta + sgn * math.sqrt(disc)) / (3.0 * u) for sgn in (1.0, -1.0)]
    e = sorted(math.sqrt(n * (kappa**2 + (delta + n * u) ** 2)) for n in ns)
    return e[0], e[1]


# ----------------------------------------------------------------------------------------------
# truncation


#: ``choose_nmax`` margins: ``nmax = mean + SIGMAS * std + MARGIN`` (checked by the tail test).
SIGMAS = 8.5
MARGIN = 10
#: Fano factor assumed for the bright branch (measured ~0.6 for the Kerr NESS at N = 20-40).
FANO = 0.7


def mean_field_photons(eps, kappa=0.5, delta=-2.0, u=1.0) -> np.ndarray:
    r"""Scaled mean-field photon numbers $\tilde n = |\alpha|^2$ of all steady states of
    [GFL-quench, Eq. (4)]: the real roots of
    $\epsilon^2 = \tilde n[\kappa^2 + (\Delta + u\tilde n)^2]$
    (one or three; sorted). Multiply by ``N`` for photons. Eager (numpy) helper."""
    eps, kappa, delta, u = float(eps), float(kappa), float(delta), float(u)
    roots = np.roots([u**2, 2.0 * delta * u, kappa**2 + delta**2, -(eps**2)])
    real = np.sort(np.real(roots[np.abs(np.imag(roots)) < 1e-9 * (1 + np.abs(roots))]))
    return real[real >= 0]


def photon_number_estimate(model: Kerr, n_terms: int | None = None) -> tuple[float, float]:
    """``(<n>, std(n))`` of the NESS for concrete parameters: exact moments where the series is
    usable, else the brightest mean-field branch with Poissonian width (exact for ``u = 0``,
    where that branch is the coherent state)."""
    K = series_terms(model) if n_terms is None else n_terms
    if K is not None and float(model.u) != 0.0:  # u = 0: no series (xi, x are infinite)
        # <n> and <a^dag^2 a^2> from the factorial moments in numpy: no JAX dispatch, which
        # cost 23 ms per call (choose_nmax runs once per point of a sweep)
        lF = log_factorial_moments(model, 3, K)
        n, g2 = math.exp(lF[1]), math.exp(lF[2])
        return n, math.sqrt(max(g2 + n - n * n, 0.0))
    nt = mean_field_photons(float(model.eps), float(model.kappa), float(model.delta),
                            float(model.u))
    n = float(model.N) * float(nt[-1]) if nt.size else float(abs(linear_cavity_limit(model)) ** 2)
    return n, math.sqrt(n)


#: Columns per block of :func:`log_factorial_moments`' sums.
_TERM_BLOCK = 128

#: ``choose_nmax`` asks the rigorous tail bound for ``P(n >= nmax) <= TAIL_BOUND``.
TAIL_BOUND = 1e-14


def log_factorial_moments(model: Kerr, k_max: int, n_terms: int) -> np.ndarray:
    r"""$\log\langle a^{\dagger k}a^k\rangle$ for $k = 0..k_{\max}-1$ (exact; concrete parameters).

    From [GFL-quench, Eq. (6)] (corrected, :func:`kerr_exact_moments`) with $n = m = k$:
    $\langle a^{\dagger k}a^k\rangle = |\xi|^{2k}/|(x)_k|^2\;F_k/F_0$, where
    $F_k = {}_0F_2(\bar x + k, x + k; z) = \sum_j z^j/(j!\,|(x+k)_j|^2)$ is a sum of positive
    terms, summed in log space (numpy): at most ``n_terms`` terms, fewer once the rest is
    provably below $e^{-40}$ of every sum (see the comment in the code).
    """
    eps, N = float(model.eps), float(model.N)
    kappa, delta, u = float(model.kappa), float(model.delta), float(model.u)
    E, U = eps * math.sqrt(N), u / N
    xi_abs = 2.0 * abs(E / U)
    x = 2.0 * (delta - 1j * kappa) / U
    logz = math.log(2.0) + 2.0 * math.log(xi_abs) if xi_abs > 0 else -np.inf
    i = np.arange(k_max + n_terms)
    c = np.concatenate([[0.0], np.cumsum(np.log(np.abs(x + i)))])  # c[m] = sum_{i<m} log|x+i|
    k = np.arange(k_max)[:, None]
    jj = np.arange(n_terms)
    log_fact = log_factorial(jj)
    # Where the terms stop mattering: row k's term ratio t_{k,j+1}/t_{kj} is
    # z/((j+1)|x+k+j|^2). For j >= -Re x, |x+k+j| >= |x+j| grows with j, so from the first such
    # j0 where z/((j0+1)|x+j0|^2) <= 1/2 on, every row falls at least geometrically (ratio
    # <= 1/2) and what follows a column j >= j0 is at most the row's term there. The columns
    # are summed in blocks until that bound is below e^-40 of every row's sum: the result is
    # the n_terms sum to rounding, at a third of its cost near eps_c (N = 40: 280 of 1024).
    with np.errstate(divide="ignore"):
        log_ratio = logz - np.log(jj + 1.0) - 2.0 * np.log(np.abs(x + jj))
    falling = (jj >= -x.real) & (log_ratio <= -math.log(2.0))
    j0 = int(np.argmax(falling)) if falling.any() else n_terms
    S = np.full(k_max, -np.inf)
    for start in range(0, n_terms, _TERM_BLOCK):
        j = jj[None, start:start + _TERM_BLOCK]
        with np.errstate(invalid="ignore"):
            lt = np.where(j == 0, 0.0, j * logz) - log_fact[j] - 2.0 * (c[k + j] - c[k])
        # log-sum-exp by rows, accumulated over the blocks (plain numpy: scipy's is several
        # times slower at this size, and choose_nmax runs once per point of a sweep); the
        # j = 0 term is finite in every row
        top = np.maximum(lt.max(axis=1), S)
        S = top + np.log(np.exp(S - top) + np.exp(lt - top[:, None]).sum(axis=1))
        if j[0, -1] >= j0 and np.all(lt[:, -1] < S - 40.0):
            break
    kk = np.arange(k_max)
    return kk * 2.0 * math.log(max(xi_abs, 1e-300)) - 2.0 * c[kk] + S - S[0]


def tail_bound(model: Kerr, M, n_terms: int | None = None) -> np.ndarray:
    r"""Rigorous upper bound on the NESS probability $P(n \ge M)$ of the untruncated Kerr model.

    Markov's inequality for the falling factorial $(n)_k = n!/(n-k)!$, which increases with
    $n \ge k$: $P(n\ge M) \le \langle a^{\dagger k}a^k\rangle/(M)_k$ for every $k \le M$, minimised
    over $k$. High factorial moments are dominated by the brightest photon numbers present, so the
    bound sees a bright peak of weight $10^{-12}$ that $\langle n\rangle$ and the variance cannot:
    what the bistability window needs. Concrete parameters only.
    """
    M = np.atleast_1d(np.asarray(M, dtype=int))
    K = int(M.max()) + 1
    J = series_terms(model) if n_terms is None else n_terms
    if J is None:
        raise ValueError(f"u={float(model.u):g}: no exact moments for so weak a nonlinearity")
    lF = log_factorial_moments(model, K, J)
    k = np.arange(K)[None, :]
    Mc = M[:, None]
    lb = np.where(k <= Mc,
                  lF[None, :] - log_factorial(Mc) + log_factorial(np.maximum(Mc - k, 0)), np.inf)
    return np.exp(np.min(lb, axis=1))


def choose_nmax(model, eps_max=None, *, kappa=0.5, delta=-2.0, u=1.0, round_to: int = 1) -> int:
    r"""Truncation ``nmax`` (Hilbert-space dimension) for the Kerr NESS.

    ``choose_nmax(Kerr(...))`` or ``choose_nmax(N, eps_max, kappa=..., delta=..., u=...)``.
    The smallest ``nmax`` whose rigorous bound :func:`tail_bound` on $P(n \ge n_{\max})$ is below
    :data:`TAIL_BOUND`, plus two levels (the truncation wall reflects what reaches it). Inside
    the bistability window the NESS is a dark/bright mixture and a bright peak of tiny weight
    still biases ``<n>`` at 1e-10 once cut off; the factorial-moment bound sees it, so the bright
    branch sets ``nmax`` exactly when its weight can matter. Where the exact-moment series is
    unavailable (``u -> 0`` or huge N), the brightest mean-field branch with a generous
    Poissonian margin is used. Checked against the exact ``<n>`` and ``<a>`` to 1e-10 for
    N = 5..40 and eps = 0.5..1.3 (tests). Rounded up to a multiple of ``round_to``.
    """
    if not isinstance(model, Kerr):
        if eps_max is None:
            raise ValueError("eps_max is required when choose_nmax is given N")
        model = Kerr(eps=eps_max, N=model, kappa=kappa, delta=delta, u=u)
    if not model.is_concrete():
        raise ValueError("choose_nmax needs concrete parameters (call it outside jit)")
    nt = mean_field_photons(float(model.eps), float(model.kappa), float(model.delta),
                            float(model.u))
    nb = float(model.N) * float(nt[-1]) if nt.size else 0.0
    n, sd = photon_number_estimate(model)
    K = series_terms(model)
    if K is None:
        est = max(n, nb) + SIGMAS * math.sqrt(max(n, nb, 1.0)) + MARGIN
    else:
        # search up to far beyond every branch
        hi = int(max(nb, n) + SIGMAS * math.sqrt(max(nb, n, 1.0)) + 4 * sd + 4 * MARGIN)
        Ms = np.arange(2, hi + 1)
        ok = tail_bound(model, Ms, K) < TAIL_BOUND
        est = (int(Ms[np.argmax(ok)]) if ok.any() else hi) + 2
    r = max(1, int(round_to))
    return int(r * math.ceil(math.ceil(est) / r))


# ----------------------------------------------------------------------------------------------
# exact NESS in the Fock basis


def fock_series_terms(n_terms: int) -> int:
    """Series length of :func:`kerr_exact_state` for an exact-moment series of ``n_terms``
    (:func:`series_terms`): half of it. The Fock-basis series in ``p`` is the moment series
    without its factor ``2^k``, so it peaks earlier; over N = 1..160, eps = 0.01..4 and
    kappa, Delta, u varied tenfold it needed at most 0.41 of the moment series' estimate to
    fall 1e-18 below its peak. The state reports its last term (``error_estimate``)."""
    return max(64, int(n_terms) // 2)


def _exact_fock_factor(model: Kerr, nmax: int, n_terms: int):
    r"""Row-scaled factor of the exact NESS, $\rho \propto D\,\hat W\hat W^\dagger D$
    (:func:`kerr_exact_state`). Returns ``(W_hat, log_d, log_F, last)``: ``W_hat`` ``(nmax, K)``,
    each row's largest entry of modulus <= 1; ``log_d`` ``(nmax,)`` the row scales (no
    gradient: they cancel); ``log_F`` the log of the untruncated trace (no gradient: only for
    the tail beyond ``nmax``; ``n_terms`` terms); ``last`` the largest last-column entry
    relative to its row's largest (series check). ``K = fock_series_terms(n_terms)``.

    Logs carry the magnitudes, which span hundreds of decades, but never of $\xi$ itself: the
    powers $(\xi/\sigma)^m$ are products with $|\xi/\sigma| \le 1$, so the state and its
    derivatives are analytic down to $\epsilon = 0$ (the vacuum)."""
    E, U = model.E, model.U
    xi = 2.0 * E / (1j * U)
    x = 2.0 * (1j * model.delta + model.kappa) / (1j * U)
    # |xi| from real arithmetic (|E| is differentiable at E = 0; |complex| is not)
    axi = 2.0 * jnp.abs(E) / jnp.abs(U)
    K = fock_series_terms(n_terms)
    sigma = jax.lax.stop_gradient(jnp.maximum(axi, 1e-30))
    log_sigma = jnp.log(sigma)
    S = nmax + K
    j = jnp.arange(S - 1, dtype=jnp.float64)
    # log (x)_s, s = 0 .. S-1 (x + j != 0: Im x = -2 kappa / U != 0)
    logpoch = jnp.concatenate([jnp.zeros(1, jnp.complex128), jnp.cumsum(jnp.log(x + j))])
    m = jnp.arange(nmax)
    p = jnp.arange(K)
    lg = jax.scipy.special.gammaln
    # log of sigma^(m+p) / (sqrt(m! p!) (x)_(m+p)): no xi inside
    mp = m[:, None] + p[None, :]
    logC = (mp * log_sigma - 0.5 * (lg(m + 1.0)[:, None] + lg(p + 1.0)[None, :])
            - logpoch[mp])
    # (xi/sigma)^m and (|xi|/sigma)^p as running products (moduli <= 1)
    a = jnp.cumprod(jnp.concatenate([jnp.ones(1, jnp.complex128),
                                     jnp.full(nmax - 1, xi / sigma)]))
    b = jnp.cumprod(jnp.concatenate([jnp.ones(1), jnp.full(K - 1, axi / sigma)]))
    log_b = jax.lax.stop_gradient(jnp.log(jnp.maximum(b, 1e-300)))
    log_d = jax.lax.stop_gradient(jnp.max(jnp.real(logC) + log_b[None, :], axis=1))
    W = a[:, None] * b[None, :] * jnp.exp(logC - log_d[:, None])
    # untruncated trace F = 0F2(conj x, x; 2|xi|^2): the moment series' normalisation
    log_z = jnp.log(2.0) + 2.0 * jnp.log(jnp.maximum(axi, 1e-300))
    log_F = jax.lax.stop_gradient(jnp.real(_log_0f2(jnp.conj(x), x, log_z, n_terms)[0]))
    last = jax.lax.stop_gradient(jnp.max(jnp.abs(W[:, -1]) / jnp.maximum(
        jnp.max(jnp.abs(W), axis=1), 1e-300)))
    return W, log_d, log_F, last


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def kerr_exact_state(model: Kerr, nmax: int, n_terms: int = 4096,
                     check: bool = True) -> SteadyState:
    r"""The exact Kerr NESS on ``nmax`` Fock levels: the Drummond-Walls solution in closed form.

    From the normally ordered moments of :func:`kerr_exact_moments` and
    $\rho_{mn} = \sum_j \frac{(-1)^j}{j!\sqrt{m!n!}}\langle a^{\dagger n+j}a^{m+j}\rangle$, the
    double series collapses (the sum over $j + k = p$ of $(-|\xi|^2)^j (2|\xi|^2)^k / j!k!$ is
    $|\xi|^{2p}/p!$) to a Gram matrix:

    $$\rho_{mn} = \frac1F\sum_{p\ge0} W_{mp}\overline{W_{np}},\qquad
      W_{mp} = \frac{\xi^m|\xi|^p}{\sqrt{m!\,p!}\,(x)_{m+p}},\qquad
      F = {}_0F_2(\bar x, x; 2|\xi|^2),$$

    with $\xi = 2E/(iU)$, $x = 2(i\Delta + \kappa)/(iU)$ as in :func:`kerr_exact_moments`. It is
    Hermitian and positive semidefinite by construction; there is no linear solve, no pin and
    no conditioning limit (the Liouvillian gap may be 1e-13: the state is still exact to
    float64), and its derivatives are those of a matrix product (autodiff). Cost
    ``O(nmax^2 K)`` for ``K = fock_series_terms(n_terms)`` terms: one ``(nmax, K)`` matmul.

    The state is the exact one restricted to ``|0>..|nmax-1>``, renormalised to trace 1: unlike
    the NESS of the truncated Liouvillian, nothing is reflected at the truncation.

    **Returns:** :class:`~jaxent.lindblad.SteadyState` with ``trace_error`` the exact population
    beyond ``nmax`` ($1 - $ the truncated trace over $F$; resolved to ~1e-14, the rounding of
    $\log F$), ``residual_norm`` $\|\mathcal L_{n_{\max}}\rho\|_F$
    of the truncated Liouvillian (zero up to terms at the truncation edge),
    ``error_estimate`` the last series term relative to its row's largest (the relative error
    of the state from cutting the series; ``resolvable`` when below ``RESOLVE_TOL``, as for a
    solver's predicted error), ``gap_estimate`` NaN (no spectral
    information: :func:`~jaxent.lindblad.liouvillian_spectrum` gives the gap), ``pinned``
    False. Not for ``u = 0`` (no series; :func:`kerr_ness` then uses the banded solver).
    jit/vmap-able, differentiable in every field of ``model`` (``nmax``, ``n_terms``, ``check``
    static).
    """
    if check:
        model = model.checked()
    nmax = _check_nmax(nmax)
    W, log_d, log_F, last = _exact_fock_factor(model, nmax, n_terms)
    G = W @ jnp.conj(W).T
    # relative row scales (the largest is 1): D G D, then trace 1 in the truncated space
    shift = jax.lax.stop_gradient(jnp.max(log_d + 0.5 * jnp.log(jnp.maximum(
        jnp.real(jnp.diagonal(G)), 1e-300))))
    d = jnp.exp(log_d - shift)
    raw = d[:, None] * G * d[None, :]
    tr = jnp.real(jnp.trace(raw))
    rho = raw / tr
    rho = 0.5 * (rho + jnp.conj(rho).T)  # Hermitian to the last bit
    kept = jax.lax.stop_gradient(jnp.exp(jnp.log(tr) + 2.0 * shift - log_F))
    L = kerr_lindbladian(model, nmax)
    return SteadyState(
        rho=rho,
        trace_error=jnp.abs(1.0 - kept),
        residual_norm=jax.lax.stop_gradient(jnp.linalg.norm(L.mv(rho))),
        tail_population=tail_population(jnp.real(jnp.diagonal(rho))),
        gap_estimate=jnp.asarray(jnp.nan),
        error_estimate=last,
        resolvable=last < RESOLVE_TOL,
        pinned=jnp.asarray(False),
    )


# ----------------------------------------------------------------------------------------------
# steady state


#: Ways to the Kerr NESS: the exact state (:func:`kerr_exact_state`), or a solve of the truncated
#: Liouvillian by block elimination (:class:`~jaxent.lindblad.BandedElimination`) or nested
#: dissection (:class:`~jaxent.lindblad.NestedDissection`), pinned to the exact ``<n>``.
NESS_METHODS = ("exact", "banded", "dissection")


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
def kerr_ness(model: Kerr, nmax: int, pin="auto", n_buckets: int = 4,
              n_terms: int | None = 4096, check: bool = True,
              method: str = "exact") -> SteadyState:
    """The traced core of :func:`kerr_steady_state`: no eager checks, every argument but
    ``model`` static; ``n_terms=None`` means no exact series: no exact state and no pin (the
    banded solver, whatever ``method``). ``pin`` and ``n_buckets`` concern the solver methods
    only. With ``check`` bad traced parameters raise through :meth:`Kerr.checked` (host
    callbacks); sweeps that validated their inputs eagerly pass ``check=False``, which also
    lets XLA's persistent compilation cache store the program (programs with host callbacks
    are not cached)."""
    if method not in NESS_METHODS:
        raise ValueError(f"method: must be one of {NESS_METHODS}, got {method!r}")
    if check:
        model = model.checked()
    if method == "exact" and n_terms is not None:
        return kerr_exact_state(model, nmax, n_terms, False)
    L = kerr_lindbladian(model, nmax)
    constraint = None
    if pin is not False and n_terms is not None:
        constraint = ExactMoment(weights=jnp.arange(nmax, dtype=jnp.float64),
                                 value=kerr_exact_moments(model, n_terms).n,
                                 when="always" if pin is True else "auto")
    solver = NestedDissection() if method == "dissection" else BandedElimination(
        n_buckets=n_buckets)
    return steady_state(L, solver, constraint=constraint)


def kerr_steady_state(model: Kerr, nmax: int, *, method: str = "exact", pin="auto",
                      n_buckets: int = 4, n_terms: int | None = None, truncation: str = "warn",
                      tail_tol: float = TAIL_TOL) -> SteadyState:
    r"""NESS of the Kerr model, exact to float64 also where the Liouvillian gap closes.

    ``method="exact"`` (default): the Drummond-Walls solution in the Fock basis
    (:func:`kerr_exact_state`), a ``(nmax, K)`` matrix product: no linear solve, hence no
    conditioning limit near $\epsilon_c$, where the gap closes exponentially in N.

    ``"banded"`` / ``"dissection"``: the NESS of the truncated Liouvillian by
    :class:`~jaxent.lindblad.BandedElimination` (block elimination over $d = m - n$, a real
    Schur complement on the populations) or :class:`~jaxent.lindblad.NestedDissection`.
    Near $\epsilon_c$ the weight of the slow mode of any float64 solve is only known to
    ``error_estimate``, while the slow subspace is well conditioned. With ``pin`` that weight,
    and that of the derivative, is fixed by the exact $\langle a^\dagger a
angle$
    (:func:`kerr_exact_moments`, an :class:`~jaxent.lindblad.ExactMoment` constraint), so states
    *and* gradients are accurate to float64 at every N; $\langle a
angle$ remains an
    independent check. They serve every Lindbladian with these bands, and here cross-check the
    exact state (to ~1e-13 in trace norm once ``nmax`` is converged; at :func:`choose_nmax`
    itself their states still carry the reflection at the truncation, up to ~3e-9).

    **Arguments:**
    - ``model``: :class:`Kerr`; ``nmax``: Hilbert-space dimension (static int >= 2; see
      :func:`choose_nmax`).
    - ``method``: one of :data:`NESS_METHODS`.
    - ``pin`` (solver methods): ``"auto"`` (pin where ``error_estimate > PIN_TOL``), ``True``
      or ``False``.
    - ``n_buckets``: padding groups of the block elimination (static; compile vs run time).
    - ``n_terms``: length of the exact series (static; default :func:`series_terms` of the
      concrete model, 4096 under ``jit``). With a nonlinearity too weak for the series
      (``u -> 0``) there is no exact state and nothing to pin: the state is solved plainly by
      the banded solver (well conditioned: no bistability).
    - ``truncation``: ``"warn"``, ``"raise"`` or ``"ignore"``: eager Fock-tail check.

    **Returns:** :class:`~jaxent.lindblad.SteadyState`. Differentiable in every field of
    ``model`` (exact: through the matrix product; solvers: implicit differentiation,
    :func:`jaxent.lindblad.steady_state`), forward and reverse mode; jit- and vmap-able over
    the parameters at fixed ``nmax``.
    """
    if method not in NESS_METHODS:
        raise ValueError(f"method: must be one of {NESS_METHODS}, got {method!r}")
    nmax = _check_nmax(nmax)
    if pin not in ("auto", True, False):
        raise ValueError(f"pin must be 'auto', True or False, got {pin!r}")
    if model.is_concrete():
        if n_terms is None:
            n_terms = series_terms(model)
        need = choose_nmax(model)
        n_ex, sd = photon_number_estimate(model, n_terms)
        if nmax < n_ex + 2.0 * sd + 2.0:
            raise ValueError(f"nmax={nmax} is far too small for <n>={n_ex:.1f} (std {sd:.1f}); "
                             f"use nmax >= {need} (choose_nmax)")
        if method == "banded" or n_terms is None:
            check_memory(banded_memory_bytes(nmax, n_buckets), f"the Kerr NESS at nmax={nmax}",
                         "reduce N (nmax grows ~ 1.6 N at eps = 1.3)")
        elif method == "exact":
            check_memory(exact_state_memory_bytes(nmax, n_terms),
                         f"the exact Kerr NESS at nmax={nmax}",
                         "reduce N (nmax grows ~ 1.6 N at eps = 1.3)")
    elif n_terms is None:
        n_terms = default_n_terms(None)
    if pin is True and n_terms is None:
        raise ValueError(f"pin=True needs the exact moments, unavailable for u={float(model.u):g}")
    ss = kerr_ness(model, nmax, pin, n_buckets, n_terms, True, method)
    if truncation != "ignore" and not isinstance(ss.rho, Tracer):
        ok = check_truncation(ss, tail_tol, "ignore")
        if not ok:
            need = choose_nmax(model) if model.is_concrete() else None
            better = max(need or 0, int(math.ceil(1.25 * nmax)))
            msg = (f"Fock truncation too small: population {float(ss.tail_population):.2e} in the "
                   f"top levels of nmax={nmax} exceeds {tail_tol:g}; use nmax={better}")
            if truncation == "raise":
                raise ValueError(msg)
            warnings.warn(msg, TruncationWarning, stacklevel=2)
    return ss
