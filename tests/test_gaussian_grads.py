"""``jax.jacfwd`` of every model's point function, every output column w.r.t. every parameter,
against finite differences.

Reference: the 4th-order central stencil
``D(h) = [-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)]/(12 h)`` with ``h = 1e-3 |x|``. Its error
is estimated, per column and parameter, as ``err = |D(h) - D(2h)|`` (15x the truncation error
``~h^4 f^(5)/30`` of ``D(h)``, since ``D(2h)`` has 16x that) plus the round-off
``ETA |f| / h`` of the stencil for a point function accurate to ``ETA = 1e-13`` relative (the
mutual information and the Wehrl terms lose up to two digits to cancellation).

Each test asserts that the reference is trustworthy (``err <= 1e-6 (|D| + |f|/|x|)``) and
that ``|jacfwd - D(h)| <= RTOL |D(h)| + 2 err`` with ``RTOL = 1e-6``; the ``2 err`` term only
matters where the derivative vanishes (e.g. ``lam_c`` w.r.t. ``lam``, the mean field in the
normal phase, everything w.r.t. the chain's ``omega``).

Columns that are flags (0/1) or round-off diagnostics (residuals; ``max_re_eig``, whose
derivative is cut with ``stop_gradient``) are skipped by name.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.models.chain import Chain, chain_point
from jaxent.models.dicke import Dicke, dicke_critical_coupling, dicke_point
from jaxent.models.oscillators import CoupledOscillators, oscillator_point

REL_STEP = 1e-3
RTOL = 1e-6
ETA = 1e-13


def _check_grads(point, names, x0, skip):
    """Compare ``jax.jacfwd`` of ``point(*x)`` (a dict of scalars) with finite differences at
    ``x0`` for every column not in ``skip`` and every parameter in ``names``."""
    x0 = np.asarray(x0, dtype=float)
    n = len(x0)
    out0 = jax.jit(lambda x: point(*x))(jnp.asarray(x0))
    assert skip <= set(out0), f"stale skip list: {skip - set(out0)}"
    cols = [k for k in out0 if k not in skip]

    def F(x):
        out = point(*x)
        return jnp.stack([out[k] for k in cols])

    jac = np.asarray(jax.jit(jax.jacfwd(F))(jnp.asarray(x0)))  # (columns, parameters)
    f0 = np.asarray(F(jnp.asarray(x0)))
    h = REL_STEP * np.abs(x0)
    offsets = np.array([-4.0, -2.0, -1.0, 1.0, 2.0, 4.0])
    X = np.repeat(x0[None], 6 * n, axis=0)
    for j in range(n):
        X[6 * j:6 * j + 6, j] += offsets * h[j]
    v = np.asarray(jax.jit(jax.vmap(F))(jnp.asarray(X))).reshape(n, 6, len(cols))
    fm4, fm2, fm1, fp1, fp2, fp4 = (v[:, i, :] for i in range(6))  # (parameters, columns)
    d1 = ((-fp2 + 8 * fp1 - 8 * fm1 + fm2) / (12 * h[:, None])).T
    d2 = ((-fp4 + 8 * fp2 - 8 * fm2 + fm4) / (24 * h[:, None])).T
    err = np.abs(d1 - d2) + ETA * np.abs(f0)[:, None] / h[None, :]
    scale = np.abs(d1) + np.abs(f0)[:, None] / np.abs(x0)[None, :]
    assert np.all(np.isfinite(jac)) and np.all(np.isfinite(d1))
    bad_ref = [(cols[i], names[j], err[i, j] / scale[i, j])
               for i, j in zip(*np.nonzero(err > 1e-6 * scale))]
    assert not bad_ref, f"finite differences not accurate enough: {bad_ref}"
    tol = RTOL * np.abs(d1) + 2 * err
    bad = [(cols[i], names[j], jac[i, j], d1[i, j], tol[i, j])
           for i, j in zip(*np.nonzero(np.abs(jac - d1) > tol))]
    assert not bad, f"(column, parameter, jacfwd, finite difference, tolerance): {bad}"


DICKE_SKIP = {"superradiant", "at_critical", "max_re_eig", "ness_identity_residual",
              "lyapunov_residual"}


@pytest.mark.parametrize("ratio", [0.8, 1.3], ids=["normal", "superradiant"])
def test_dicke_grads(ratio):
    lc = float(dicke_critical_coupling(0.005, 0.01, 1.0))
    _check_grads(lambda *p: dicke_point(Dicke(*p)),
                 ["lam", "omega0", "omega", "kappa", "gamma"],
                 [ratio * lc, 0.005, 0.01, 1.0, 1e-3], DICKE_SKIP)


CHAIN_SKIP = {"residual", "offband_residual", "ness_identity_residual", "closed_form_residual"}


def test_chain_grads():
    _check_grads(lambda *p: chain_point(Chain(5, *p)),
                 ["gamma", "Gamma", "lam", "n1", "nL", "omega"],
                 [0.2, 0.1, 0.3, 1.0, 2.0, 1.0], CHAIN_SKIP)


@pytest.mark.parametrize("method, coupling", [("local", "pp"), ("global", "pp"),
                                              ("langevin", "pp"), ("langevin", "rw")])
def test_oscillator_grads(method, coupling):
    """rw + langevin: the drift's eigenvectors have components of tied magnitude, where JAX's
    own eigenvector derivative is undefined (jaxent.gaussian.langevin uses a gauge-free one)."""
    _check_grads(lambda *p: oscillator_point(CoupledOscillators(*p, coupling=coupling), method),
                 ["lam_over_lamc", "omega1", "omega2", "gamma1", "gamma2", "T1", "T2"],
                 [0.5, 5.0, 2.0, 1.5e-4, 2e-4, 98.0, 120.0], set())
