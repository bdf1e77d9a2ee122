r"""Harmonic chain with boundary baths and self-consistent reservoirs [MSCPL19, Sec. IV].

Model [MSCPL19, Eqs. (27)-(28)]: ``L`` resonant modes,

$$H = \omega\sum_k a_k^\dagger a_k
  + i\lambda\sum_{k=1}^{L-1}(a_k^\dagger a_{k+1} - a_{k+1}^\dagger a_k),$$

a physical bath (rate ``gamma``, occupation ``n1`` / ``nL``) on sites 1 and L and a
self-consistent reservoir (rate ``Gamma``, occupation $\tilde n_k$) on every site, each a local
dissipator of the form [MSCPL19, Eq. (4)]
$\gamma(n+1)D[a] + \gamma n D[a^\dagger]$ (energy relaxation rate $\gamma$; in the Gaussian
core's convention $2\kappa(\bar n+1)D[a] + 2\kappa\bar n D[a^\dagger]$ this is $\kappa=\gamma/2$).
The $\tilde n_k$ are fixed by zero net energy current into every reservoir,
$\Gamma(\tilde n_k - \langle a_k^\dagger a_k\rangle) = 0$, i.e.
$\tilde n_k = \langle a_k^\dagger a_k\rangle$.

Correlation matrix and its equation (derived here; the appendix prints it with slips)
---------------------------------------------------------------------------------------
With $C_{ij} = \langle a_i^\dagger a_j\rangle$ and $S_{ij} = \langle a_i a_j\rangle$, the master
equation gives ($H_{ij}$ the single-particle matrix, $H^* = -H$ off the diagonal)

$$\dot C = i[C, H] - \tfrac12\{\Gamma_{\rm tot}, C\} + f,\qquad
  f = {\rm diag}(\gamma_k n_k + \Gamma\tilde n_k),\quad
  \Gamma_{\rm tot} = {\rm diag}(\gamma_k + \Gamma),$$

and $\dot S$ is homogeneous, so $S = 0$ in the NESS. MSCPL19's Eqs. (B4a)/(B5) print
$+\{C,\Gamma\}$ (wrong sign, missing 1/2) and (D3) likewise $+\{C,\Gamma_r\}$; (D1) calls the
$L\times L$ identity $\mathbb 1_{2L}$. With $\tilde n_k = C_{kk}$ the self-consistent part is
$\Gamma(C_d - C)$: **linear in C** (the same term as local dephasing), so the NESS solves one
linear system, no iteration.

Structure. On the tridiagonal ansatz $C_{kk} = N_k$, $C_{k,k+1} = C_{k+1,k} = x_k$ (real), the
equations read (physical rates $g_k = \gamma(\delta_{k1}+\delta_{kL})$,
$c_k = \Gamma + (g_k + g_{k+1})/2$):

* diagonal $k$:   $g_k(N_k - n_k) = 2\lambda x_k - 2\lambda x_{k-1}$ (the $\Gamma$ terms cancel
  by self-consistency; $2\lambda x_k$ is the energy current from site $k+1$ into site $k$),
* bond $k$:       $c_k x_k = \lambda(N_{k+1} - N_k)$,
* distance 2:     $\lambda(x_{k+1} - x_k) = 0$, and nothing at larger distances.

The first two form a block-tridiagonal system in $u_k = (N_k, x_k)$ with 2x2 diagonal blocks
$[[g_k, -2\lambda], [\lambda, c_k]]$ (determinant $g_kc_k + 2\lambda^2 > 0$), solved here by
block-Thomas elimination in O(L) (two `lax.scan`s, no pivoting needed: every Schur complement
keeps determinant $\geq 2\lambda^2$, also at $\Gamma = 0$). The interior diagonal rows force
$x_k$ uniform, so the distance-2 rows hold as well: the ansatz solves the full linear system,
whose solution is unique (the drift is Hurwitz for $\gamma > 0$, $\lambda \neq 0$), hence **the NESS
correlation matrix is exactly tridiagonal** [confirming MSCPL19, Eq. (D4)]; the quadrature
covariance is $\sigma = (C + \tfrac12)\otimes I_2$ in the ordering $(x_1,p_1,\dots,x_L,p_L)$,
$x = (a+a^\dagger)/\sqrt2$ (vacuum $I/2$). The distance-2 residual is returned as a check.
This holds for a uniform $\lambda$ and $\omega$ with physical baths only at the ends (a
non-uniform $\lambda$ or an interior physical bath would fill the band).

Entropy production [MSCPL19, Eqs. (17), (20), (C2), (E1), (E2)]
-------------------------------------------------------------
For a channel of rate $\kappa$ and occupation $n$ ($m = n + 1/2$) on site $k$,
$\Phi = \kappa(N_k - n)/m$ [Eq. (20)] and [Eq. (C2)]
$\Pi = \Phi - \kappa + \kappa m\,[G^{-1}]_{kk}$ with $G = C + \tfrac12$ (for $S = 0$,
$[\Theta^{-1}]_{2k,2k} = [G^{-1}]_{kk}$; the printed Eq. (A6)
"$\Theta^{-1} = \tfrac12 + C^{-1}\otimes \dots$" is wrong, the blocks are $(C+\tfrac12)^{-1}$).
Written naively these are differences of
numbers a factor $\sim 10^4$ larger than the result at large L, so they are evaluated in a
cancellation-free form. With $[G^{-1}]_{kk} = 1/s_k$, $s_k = d_k - l_k - r_k$,
$d_k = N_k + \tfrac12$, and the continued fractions $l_k = x_{k-1}^2/p_{k-1}$,
$p_k = d_k - l_k$ (from the left), $r_k = x_k^2/q_{k+1}$, $q_k = d_k - r_k$ (from the right):

$$\Pi = \kappa\,\frac{(s_k - m)^2 + (l_k + r_k)\,s_k}{m\,s_k}\quad(\geq 0),\qquad
  \Pi^{\rm sc}_k = \Gamma\,\frac{l_k + r_k}{s_k}\quad(m = d_k),$$

with $s_1 - m_1 = (N_1 - n_1) - r_1$ and $N_1 - n_1 = 2\lambda x_1/\gamma$ from the diagonal row
(the same at site L with $-2\lambda x_{L-1}$). $\Pi_r = \Pi_1 + \Pi_L$ [Eq. (E1)],
$\Pi_{sc} = \sum_k \Pi^{\rm sc}_k$ [Eq. (E2)], and in the NESS
$\Pi_{\rm NESS} = \sum_{\rm channels}\Phi = \Phi_1 + \Phi_L = j\,(1/m_1 - 1/m_L)$ [Eqs. (24), (31)]
(the self-consistent fluxes vanish). $\Pi_r + \Pi_{sc} = \Pi_{\rm NESS}$ is then the identity
$\sum_{\rm ch}\kappa_{\rm ch} m_{\rm ch}[G^{-1}]_{kk} = {\rm tr}\,\Gamma_{\rm tot}$ (trace of
the Lyapunov equation times $G^{-1}$), which the code does not use, so it is a genuine check.

Current. $j = 2\lambda x$ [Eq. (30)], positive when heat flows from site L to site 1
($n_L > n_1$). MSCPL19's Eq. (25b) prints $j_{k\ell} = -iH_{k\ell}(\langle a_k^\dagger a_\ell\rangle
- \langle a_\ell^\dagger a_k\rangle)$, which vanishes for real $x$; the correct current is
$-i(H_{k\ell}\langle a_k^\dagger a_\ell\rangle - H_{\ell k}\langle a_\ell^\dagger a_k\rangle)
= 2\,{\rm Im}(H_{k\ell}\langle a_k^\dagger a_\ell\rangle)$, consistent with Eqs. (24) and (30).

The closed forms of Sec. IV [Eqs. (29a), (29b), (30), (31)] follow from the same rows by hand
(:func:`chain_closed_form`); they are the anchor of the tests.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxent.gaussian.checks import (
    check_nonnegative,
    check_nonzero,
    check_positive,
    check_scalar,
    check_value,
    is_traced,
)

__all__ = [
    "Chain",
    "ChainNESS",
    "ChainEntropy",
    "chain_ness",
    "chain_entropy_production",
    "chain_closed_form",
    "chain_correlation_matrix",
    "chain_covariance",
    "chain_point",
    "chain_point_padded",
    "chain_points",
    "chain_occupations",
    "local_slope",
]

_PARAMS = ("gamma", "Gamma", "lam", "n1", "nL", "omega")


_RULES = {
    "gamma": (check_positive,
              "must be finite and > 0: without the physical baths the drift is not Hurwitz "
              "(Gamma = 0) or the self-consistent occupations are undetermined (Gamma > 0), so "
              "there is no unique NESS"),
    "Gamma": (check_nonnegative, "must be finite and >= 0 (a rate)"),
    "lam": (check_nonzero,
            "must be finite and nonzero: at lam = 0 the sites decouple and the self-consistent "
            "interior occupations are undetermined (singular NESS equations)"),
    "n1": (check_nonnegative, "must be finite and >= 0 (a Bose-Einstein occupation)"),
    "nL": (check_nonnegative, "must be finite and >= 0 (a Bose-Einstein occupation)"),
    "omega": (check_positive, "must be finite and > 0 (a frequency)"),
}


def _check_L(L) -> int:
    """The static chain length as a Python int >= 2 (``ValueError`` naming ``L`` otherwise)."""
    ok = (isinstance(L, (int, np.integer)) and not isinstance(L, bool)) or (
        isinstance(L, (float, np.floating)) and float(L).is_integer())
    if not ok:
        raise ValueError(f"L must be an integer >= 2 (it sets array shapes, so it must be a "
                         f"static Python int), got {L!r}")
    if int(L) < 2:
        raise ValueError(f"L must be >= 2 (a chain needs two ends for the two baths), got {L}")
    return int(L)


def validate_chain(L, gamma, Gamma, lam, n1, nL, omega) -> None:
    """Eager checks (``ValueError`` naming the parameter) of the concrete values among the
    arguments, arrays allowed; traced values are skipped (see :func:`_checked`)."""
    _check_L(L)
    vals = dict(gamma=gamma, Gamma=Gamma, lam=lam, n1=n1, nL=nL, omega=omega)
    for k, v in vals.items():
        if not is_traced(v):
            fn, what = _RULES[k]
            fn(v, k, what)


class Chain(eqx.Module):
    """Parameters of the MSCPL19 chain [Eqs. (27)-(28)].

    ``L`` (number of sites, >= 2) is static; every other field is a traced float64 array
    (scalars for one chain; use ``jax.vmap`` over a batch of chains of the same ``L``).
    ``gamma``: rate of the physical baths on sites 1 and L; ``Gamma``: rate of the
    self-consistent reservoirs (0 gives the ballistic chain); ``lam``: nearest-neighbour
    coupling; ``n1``, ``nL``: bath occupations at frequency ``omega``. ``omega`` drops out of
    every NESS quantity (uniform frequency, local master equation) and is kept only to build
    the full Hamiltonian for dense cross-checks. The local master equation assumes
    ``lam, gamma, Gamma << omega`` [MSCPL19, Eq. (3)]; that is not enforced.

    Concrete values are validated at construction (``ValueError`` naming the parameter);
    traced values are checked inside the solver with ``equinox.error_if``.
    """

    L: int = eqx.field(static=True)
    gamma: Float[Array, ""]
    Gamma: Float[Array, ""]
    lam: Float[Array, ""]
    n1: Float[Array, ""]
    nL: Float[Array, ""]
    omega: Float[Array, ""]

    def __init__(self, L, gamma, Gamma, lam, n1, nL, omega=1.0):
        validate_chain(L, gamma, Gamma, lam, n1, nL, omega)
        self.L = _check_L(L)
        self.gamma = jnp.asarray(gamma, dtype=jnp.float64)
        self.Gamma = jnp.asarray(Gamma, dtype=jnp.float64)
        self.lam = jnp.asarray(lam, dtype=jnp.float64)
        self.n1 = jnp.asarray(n1, dtype=jnp.float64)
        self.nL = jnp.asarray(nL, dtype=jnp.float64)
        self.omega = jnp.asarray(omega, dtype=jnp.float64)


class ChainNESS(eqx.Module):
    r"""Tridiagonal NESS correlation matrix of the chain.

    ``occupations``: $N_k = \langle a_k^\dagger a_k\rangle$ (= the self-consistent
    occupations $\tilde n_k$), shape ``(L,)``; ``coherences``: $x_k = \langle a_k^\dagger
    a_{k+1}\rangle$ (real), shape ``(L-1,)``; ``current``: $j = 2\lambda x$ [MSCPL19, Eq. (30)],
    from site L towards site 1; ``residual``: max |residual| of the diagonal and bond rows
    relative to the largest term; ``offband_residual``: max $|x_{k+1}-x_k|$ relative to the
    size of $x$ (Eq. (29b), with $|n_L - n_1| \to \bar n + 1/2$ if zero): the distance-2
    equation that the tridiagonal ansatz must also satisfy.
    """

    occupations: Float[Array, " L"]
    coherences: Float[Array, " Lm1"]
    current: Float[Array, ""]
    residual: Float[Array, ""]
    offband_residual: Float[Array, ""]


class ChainEntropy(eqx.Module):
    r"""Wigner entropy production of the chain NESS [MSCPL19, Eqs. (17), (20), (31), (E1), (E2)].

    ``Pi_NESS`` = sum of channel fluxes = $\Phi_1 + \Phi_L$; ``Pi_r`` = physical baths;
    ``Pi_sc`` = self-consistent reservoirs; ``Pi_sc_sites`` per site, shape ``(L,)``;
    ``Pi_1``, ``Pi_L``, ``Phi_1``, ``Phi_L`` the physical channels.
    """

    Pi_NESS: Float[Array, ""]
    Pi_r: Float[Array, ""]
    Pi_sc: Float[Array, ""]
    Pi_sc_sites: Float[Array, " L"]
    Pi_1: Float[Array, ""]
    Pi_L: Float[Array, ""]
    Phi_1: Float[Array, ""]
    Phi_L: Float[Array, ""]


def _checked(chain: Chain) -> Chain:
    """``chain`` with every parameter scalar-checked (``ValueError``) and value-checked
    (:mod:`jaxent.gaussian.checks`: ``ValueError`` if concrete, ``equinox.error_if`` if
    traced). The solvers use the returned leaves, so a traced check cannot be optimised away."""
    for k in _PARAMS:
        check_scalar(getattr(chain, k), k)
    vals = {k: _RULES[k][0](getattr(chain, k), k, _RULES[k][1]) for k in _PARAMS}
    if is_traced(chain.omega):
        # omega drops out of every NESS quantity, so its own checked copy would be dead code;
        # tie its check to gamma, which every quantity uses
        om = chain.omega
        vals["gamma"] = eqx.error_if(vals["gamma"], ~(jnp.isfinite(om) & (om > 0)),
                                     "omega: " + _RULES["omega"][1])
    return eqx.tree_at(lambda c: tuple(getattr(c, k) for k in _PARAMS), chain,
                       tuple(vals[k] for k in _PARAMS))


def _checked_length(L, size: int):
    """The (possibly traced) number of sites of a chain padded to ``size``, as an int array;
    must be an integer in ``[2, size]`` (``ValueError`` / ``equinox.error_if``)."""
    what = f"must be an integer in [2, {size}] (the padded size)"
    L = check_value(L, "L", lambda v: (v == np.round(v)) & (v >= 2) & (v <= size),
               lambda v: (v == jnp.round(v)) & (v >= 2) & (v <= size), what)
    return jnp.asarray(L).astype(int)


def _inv2(M):
    """Inverse of a 2x2 matrix (adjugate; the callers guarantee det >= 2 lam^2 > 0)."""
    a, b, c, d = M[0, 0], M[0, 1], M[1, 0], M[1, 1]
    det = a * d - b * c
    return jnp.array([[d, -b], [-c, a]]) / det


def _x_scale(chain: Chain, L):
    """Closed-form size of x [Eq. (29b)], with |n_L - n_1| -> nbar + 1/2 when it vanishes."""
    dn = jnp.abs(chain.nL - chain.n1)
    dn_eff = jnp.where(dn > 0, dn, 0.5 * (chain.n1 + chain.nL) + 0.5)
    D = 4 * chain.lam**2 + chain.gamma**2 + chain.gamma * chain.Gamma * (L - 1)
    return chain.gamma * jnp.abs(chain.lam) * dn_eff / D, dn_eff, D


def _ness_padded(chain: Chain, L, size: int) -> ChainNESS:
    """NESS of a chain of ``L`` sites (``L`` may be traced) in arrays of static length
    ``size >= L``; sites ``k >= L`` are inert (identity blocks, zero right-hand side), so they
    come out as N = x = 0 and one compilation serves every L <= size."""
    lam, Gam = chain.lam, chain.Gamma
    k = jnp.arange(size)
    active = k < L
    first, last = k == 0, k == L - 1
    g = chain.gamma * (first | last)
    gn = chain.gamma * (chain.n1 * first + chain.nL * last)
    bond = k < L - 1                       # bond k joins sites k and k+1 (0-based)
    lam_b = jnp.where(bond, lam, 0.0)
    g_next = jnp.concatenate([g[1:], jnp.zeros(1)])
    c = jnp.where(bond, Gam + 0.5 * (g + g_next), 1.0)
    zero = jnp.zeros(size)
    # rows: diag_k: g N_k + 2 lam_{k-1} x_{k-1} - 2 lam_k x_k = g n_k
    #       bond_k: lam_k N_k + c_k x_k - lam_k N_{k+1} = 0
    # (an inert site has g -> 1, lam = 0, c = 1: the identity block)
    gdiag = jnp.where(active, g, 1.0)
    B = jnp.stack([jnp.stack([gdiag, -2 * lam_b], -1), jnp.stack([lam_b, c], -1)], -2)
    lam_prev = jnp.concatenate([jnp.zeros(1), lam_b[:-1]])
    A = jnp.stack([jnp.stack([zero, 2 * lam_prev], -1), jnp.stack([zero, zero], -1)], -2)
    Cup = jnp.stack([jnp.stack([zero, zero], -1), jnp.stack([-lam_b, zero], -1)], -2)
    rhs = jnp.stack([gn, zero], -1)

    def fwd(carry, inp):
        Sinv_prev, y_prev, C_prev = carry
        Ak, Bk, rk, Ck = inp
        Sk = Bk - Ak @ Sinv_prev @ C_prev
        yk = rk - Ak @ (Sinv_prev @ y_prev)
        Sinv = _inv2(Sk)
        return (Sinv, yk, Ck), (Sinv, yk)

    init = (jnp.zeros((2, 2)), jnp.zeros(2), jnp.zeros((2, 2)))
    _, (Sinv, y) = jax.lax.scan(fwd, init, (A, B, rhs, Cup))

    def bwd(u_next, inp):
        Sinv_k, yk, Ck = inp
        uk = Sinv_k @ (yk - Ck @ u_next)
        return uk, uk

    _, u = jax.lax.scan(bwd, jnp.zeros(2), (Sinv, y, Cup), reverse=True)
    N = u[:, 0]
    x = u[:-1, 1]

    # residuals of the rows (relative to the largest term) and of the distance-2 rows
    xpad = jnp.concatenate([jnp.zeros(1), x, jnp.zeros(1)])
    n_bath = chain.n1 * first + chain.nL * last
    diag_res = jnp.where(active, g * (N - n_bath) - 2 * lam * (xpad[1:] - xpad[:-1]), 0.0)
    bond_res = jnp.where(bond[:-1], c[:-1] * x - lam * (N[1:] - N[:-1]), 0.0)
    scale = jnp.maximum(jnp.max(g * N), jnp.max(jnp.abs(lam * N)))
    residual = jnp.maximum(jnp.max(jnp.abs(diag_res)), jnp.max(jnp.abs(bond_res))) / scale
    xscale, _, _ = _x_scale(chain, L)
    if size > 2:
        both = (k[:-2] + 1) < L - 1          # bonds k and k+1 both inside the chain
        offband = jnp.max(jnp.where(both, jnp.abs(x[1:] - x[:-1]), 0.0)) / xscale
    else:
        offband = jnp.zeros(())
    return ChainNESS(occupations=N, coherences=x, current=2 * lam * x[0], residual=residual,
                     offband_residual=offband)


@jax.jit
def chain_ness(chain: Chain) -> ChainNESS:
    r"""Exact NESS of the chain with self-consistent reservoirs, O(L) time and memory.

    Solves the block-tridiagonal linear system for $u_k = (N_k, x_k)$ described in the module
    docstring (self-consistency included as the linear term $\Gamma(C_d - C)$) by block-Thomas
    elimination with ``lax.scan``; differentiable in every traced field of ``chain``.
    [MSCPL19, Eqs. (28), (B5), (D3), (D4)]
    """
    return _ness_padded(_checked(chain), chain.L, chain.L)


def _inverse_diagonal_parts(d, x):
    """Continued fractions of a symmetric tridiagonal positive-definite matrix with diagonal
    ``d`` and off-diagonal ``x``: returns ``(l, r, s)`` with ``[G^{-1}]_kk = 1/s_k``,
    ``s_k = d_k - l_k - r_k`` (``l_k``, ``r_k`` >= 0 the Schur corrections from the left and
    from the right). O(L), no cancellation in ``l + r``."""
    x2 = x * x

    def left(p_prev, inp):
        dk, x2prev = inp
        lk = x2prev / p_prev
        return dk - lk, lk

    _, l_rest = jax.lax.scan(left, d[0], (d[1:], x2))
    left_corr = jnp.concatenate([jnp.zeros(1), l_rest])

    def right(q_next, inp):
        dk, x2k = inp
        rk = x2k / q_next
        return dk - rk, rk

    _, r_rest = jax.lax.scan(right, d[-1], (d[:-1], x2), reverse=True)
    r = jnp.concatenate([r_rest, jnp.zeros(1)])
    return left_corr, r, d - left_corr - r


def _channel_pi(kappa, m, dev, corr, s):
    """Wigner entropy production of one channel, cancellation-free form of [MSCPL19, Eq. (C2)]:
    ``kappa [(s - m)^2 + corr s] / (m s)`` with ``s - m = dev - corr``, ``dev = N_k - n``,
    ``corr = l_k + r_k`` (see the module docstring)."""
    sm = dev - corr
    return kappa * (sm * sm + corr * s) / (m * s)


def _entropy_padded(chain: Chain, ness: ChainNESS, L) -> ChainEntropy:
    N, x = ness.occupations, ness.coherences
    d = N + 0.5
    left_corr, r, s = _inverse_diagonal_parts(d, x)
    corr = left_corr + r
    active = jnp.arange(N.shape[0]) < L
    Pi_sc_sites = jnp.where(active, chain.Gamma * corr / s, 0.0)
    m1, mL = chain.n1 + 0.5, chain.nL + 0.5
    # N_1 - n_1 and N_L - n_L from the diagonal rows (exact in the NESS, no cancellation)
    x_last = x[L - 2]
    dev1 = 2 * chain.lam * x[0] / chain.gamma
    devL = -2 * chain.lam * x_last / chain.gamma
    Pi_1 = _channel_pi(chain.gamma, m1, dev1, corr[0], s[0])
    Pi_L = _channel_pi(chain.gamma, mL, devL, corr[L - 1], s[L - 1])
    Phi_1 = chain.gamma * dev1 / m1
    Phi_L = chain.gamma * devL / mL
    return ChainEntropy(Pi_NESS=Phi_1 + Phi_L, Pi_r=Pi_1 + Pi_L, Pi_sc=jnp.sum(Pi_sc_sites),
                        Pi_sc_sites=Pi_sc_sites, Pi_1=Pi_1, Pi_L=Pi_L, Phi_1=Phi_1, Phi_L=Phi_L)


@jax.jit
def chain_entropy_production(chain: Chain, ness: ChainNESS | None = None) -> ChainEntropy:
    """Pi_NESS, Pi_r and Pi_sc of the chain NESS in O(L) [MSCPL19, Eqs. (20), (C2), (E1), (E2)].

    See the module docstring for the cancellation-free forms. Differentiable.
    """
    chain = _checked(chain)
    if ness is None:
        ness = _ness_padded(chain, chain.L, chain.L)
    return _entropy_padded(chain, ness, chain.L)


def _closed_form(chain: Chain, L, size: int) -> dict[str, jax.Array]:
    g, G, lam, n1, nL = chain.gamma, chain.Gamma, chain.lam, chain.n1, chain.nL
    D = 4 * lam**2 + g**2 + g * G * (L - 1)
    k = jnp.arange(1, size + 1)
    delta = (k == 1).astype(float) - (k == L).astype(float)
    N = (n1 + nL) / 2 + (n1 - nL) / 2 * (G * g * (L - 2 * k + 1) + g**2 * delta) / D
    x = g * lam * (nL - n1) / D
    j = 2 * lam**2 * g * (nL - n1) / D
    Pi = j * (1 / (n1 + 0.5) - 1 / (nL + 0.5))
    return {"occupations": jnp.where(k <= L, N, 0.0), "coherence": x, "current": j,
            "Pi_NESS": Pi}


@jax.jit
def chain_closed_form(chain: Chain) -> dict[str, jax.Array]:
    r"""Closed forms of MSCPL19 Sec. IV: ``occupations`` [Eq. (29a)], ``coherence`` $x$
    [Eq. (29b)], ``current`` $j$ [Eq. (30)] and ``Pi_NESS`` [Eq. (31)], with
    $D = 4\lambda^2 + \gamma^2 + \gamma\Gamma(L-1)$. Independent of the solver (derived by
    summing the bond rows: $n_L - n_1 - 4\lambda x/\gamma = x[(L-1)\Gamma + \gamma]/\lambda$)."""
    return _closed_form(chain, chain.L, chain.L)


def chain_correlation_matrix(ness: ChainNESS) -> Float[Array, "L L"]:
    r"""Dense $C_{ij} = \langle a_i^\dagger a_j\rangle$ (tridiagonal; small L only)."""
    N, x = ness.occupations, ness.coherences
    return jnp.diag(N) + jnp.diag(x, 1) + jnp.diag(x, -1)


def chain_covariance(ness: ChainNESS) -> Float[Array, "M M"]:
    r"""Dense quadrature covariance $\sigma = (C + 1/2)\otimes I_2$ in the ordering
    $(x_1,p_1,\dots,x_L,p_L)$, $x = (a+a^\dagger)/\sqrt2$, $\sigma = \tfrac12\langle\{\delta r,
    \delta r\}\rangle$ (vacuum $I/2$); valid because $S = 0$ and $C$ is real. Small L only;
    ``M = 2L``."""
    C = chain_correlation_matrix(ness)
    G = C + 0.5 * jnp.eye(C.shape[0])
    return jnp.kron(G, jnp.eye(2))


def _point_padded(chain: Chain, L, size: int) -> dict[str, jax.Array]:
    chain = _checked(chain)
    ness = _ness_padded(chain, L, size)
    ent = _entropy_padded(chain, ness, L)
    cf = _closed_form(chain, L, size)
    unit_x, dn_eff, D = _x_scale(chain, L)
    unit_j = 2 * chain.lam**2 * chain.gamma / D * dn_eff
    unit_pi = unit_j * dn_eff / ((chain.n1 + 0.5) * (chain.nL + 0.5))
    active = jnp.arange(size) < L
    bond = jnp.arange(size - 1) < L - 1
    occ_dev = jnp.where(active, jnp.abs(ness.occupations / jnp.where(active, cf["occupations"],
                                                                       1.0) - 1), 0.0)
    cf_res = jnp.max(jnp.stack([
        jnp.max(occ_dev),
        jnp.max(jnp.where(bond, jnp.abs(ness.coherences - cf["coherence"]), 0.0)) / unit_x,
        jnp.abs(ness.current - cf["current"]) / unit_j,
        jnp.abs(ent.Pi_NESS - cf["Pi_NESS"]) / unit_pi,
    ]))
    return {
        "current": ness.current,
        "Pi_NESS": ent.Pi_NESS,
        "Pi_r": ent.Pi_r,
        "Pi_sc": ent.Pi_sc,
        "Phi_1": ent.Phi_1,
        "Phi_L": ent.Phi_L,
        "N_1": ness.occupations[0],
        "N_L": ness.occupations[L - 1],
        "residual": ness.residual,
        "offband_residual": ness.offband_residual,
        "ness_identity_residual": jnp.abs(ent.Pi_r + ent.Pi_sc - ent.Pi_NESS) / unit_pi,
        "closed_form_residual": cf_res,
    }


@jax.jit
def chain_point(chain: Chain) -> dict[str, jax.Array]:
    r"""Every scalar the ``chain`` command tabulates, for one chain: the point function of the
    model.

    ``chain.L`` is static; ``gamma``, ``Gamma``, ``lam``, ``n1``, ``nL``, ``omega`` are float64
    scalars, traced or not, so ``jax.jit``/``jax.vmap`` of a function that builds the
    :class:`Chain` and ``jax.jacfwd`` w.r.t. any of them work. Returns:

    * physics: ``current`` $j$ [Eq. (30)], ``Pi_NESS``, ``Pi_r``, ``Pi_sc``
      [Eqs. (31), (E1), (E2)], ``Phi_1``, ``Phi_L`` [Eq. (20)], ``N_1``, ``N_L`` (end
      occupations);
    * diagnostics (error control, all ~1e-13 or less in an exact NESS; their derivatives are
      round-off noise): ``residual`` (solver rows), ``offband_residual`` (distance-2 rows,
      i.e. tridiagonality), ``ness_identity_residual``
      $= |\Pi_r + \Pi_{sc} - \Pi_{NESS}|/\Pi_{NESS}$ and ``closed_form_residual``, the
      largest relative deviation of occupations, coherence, current and Pi_NESS from
      [MSCPL19, Eqs. (29a)-(31)]. When $n_1 = n_L$ (all three vanish) the deviations are
      measured in the units a temperature difference $\bar n + 1/2$ would produce, so the
      columns stay finite.

    ``omega`` drops out (every derivative w.r.t. it is exactly 0). Bad input (NaN/inf,
    ``gamma <= 0``, ``Gamma < 0``, ``lam == 0``, ``n1 < 0``, ``nL < 0``, ``omega <= 0``) raises
    ``ValueError`` at construction when concrete, and an ``equinox`` runtime error naming the
    parameter when traced; a non-scalar parameter raises ``ValueError`` (use ``jax.vmap``).
    """
    return _point_padded(chain, chain.L, chain.L)


def chain_point_padded(chain: Chain, L) -> dict[str, jax.Array]:
    """:func:`chain_point` of a chain of ``L`` sites computed in arrays of the static size
    ``chain.L >= L`` (inert padding, see ``_ness_padded``), so that ``L`` itself may be traced
    (an integer-valued int or float scalar in ``[2, chain.L]``; otherwise ``ValueError``, or
    an ``equinox`` runtime error naming ``L`` when traced). One compilation serves every
    ``L <= chain.L``: ``jax.vmap`` over ``L`` and the other parameters. Same columns as
    :func:`chain_point`."""
    check_scalar(L, "L")
    return _point_padded(chain, _checked_length(L, chain.L), chain.L)


@functools.partial(jax.jit, static_argnums=1)
def _points_batch(params, size):
    L, gamma, Gamma, lam, n1, nL = params

    def one(L, gamma, Gamma, lam, n1, nL):
        ch = Chain(size, gamma, Gamma, lam, n1, nL)   # L field unused below: traced L rules
        return _point_padded(ch, _checked_length(L, size), size)

    return jax.vmap(one)(L, gamma, Gamma, lam, n1, nL)


def _check_batch(L, gamma, Gamma, lam, n1, nL):
    L = np.asarray(L)
    if L.ndim != 1 or np.any(L != np.round(L)) or np.any(L < 2):
        raise ValueError(f"L must be a 1-D array of integers >= 2, got {L}")
    cols = [np.asarray(v, dtype=float) for v in (gamma, Gamma, lam, n1, nL)]
    if any(c.shape != L.shape for c in cols):
        raise ValueError("L, gamma, Gamma, lam, n1, nL must have the same length")
    validate_chain(2, cols[0], cols[1], cols[2], cols[3], cols[4], 1.0)
    return (jnp.asarray(L.astype(int)),) + tuple(jnp.asarray(c) for c in cols), int(L.max())


def chain_points(L, gamma, Gamma, lam, n1, nL) -> dict[str, np.ndarray]:
    """:func:`chain_point` for many chains at once, sizes included, with one compilation.

    All arguments are 1-D arrays of equal length (one entry per chain; ``L`` integers >= 2).
    The chains are padded to ``max(L)`` sites (inert padding, see ``_ness_padded``) and
    evaluated with one ``jit(vmap(...))``, so a sweep over sizes compiles once per maximum
    size instead of once per L. Validated eagerly (``ValueError`` naming the parameter).
    """
    params, size = _check_batch(L, gamma, Gamma, lam, n1, nL)
    out = _points_batch(params, size)
    return {k: np.asarray(v) for k, v in out.items()}


@functools.partial(jax.jit, static_argnums=1)
def _occupations_batch(params, size):
    def one(L, gamma, Gamma, lam, n1, nL):
        ch = _checked(Chain(size, gamma, Gamma, lam, n1, nL))
        return _ness_padded(ch, _checked_length(L, size), size).occupations

    return jax.vmap(one)(*params)


def chain_occupations(L, gamma, Gamma, lam, n1, nL) -> list[np.ndarray]:
    r"""NESS occupation profiles $\langle a_k^\dagger a_k\rangle$, k = 1..L, of many chains
    (1-D argument arrays as in :func:`chain_points`; one compilation)."""
    params, size = _check_batch(L, gamma, Gamma, lam, n1, nL)
    occ = np.asarray(_occupations_batch(params, size))
    return [occ[i, : int(Li)] for i, Li in enumerate(np.asarray(L))]


def local_slope(L1: float, y1: float, L2: float, y2: float) -> float:
    r"""Log-log slope $\ln(y_2/y_1)/\ln(L_2/L_1)$ between two points."""
    return math.log(y2 / y1) / math.log(L2 / L1)
