"""The Kerr sweep layer: end-to-end NESS identity, resume, gradients, CLI."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

import jaxent.sweep as sweep
from jaxent.cli import main
from jaxent.io import read_csv
from jaxent.models.kerr import Kerr
from jaxent.phase_space.grid import polar_grid

N_SMALL = 5.0


def test_sweep_writes_identity_satisfying_rows_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "kerr.csv"
    eps = [0.5, 0.933, 1.2]
    sweep.kerr_sweep([N_SMALL], eps, out, chunk=2, progress=False)
    data = read_csv(out)
    assert sorted(data["eps"]) == eps
    assert set(sweep.KERR_COLUMNS) <= set(data)
    # In a NESS Pi_U + Pi_J = Phi [GFL20 Eq. (10)]: an end-to-end check of solver + grid.
    np.testing.assert_array_less(np.abs(data["ness_identity_residual"]), 1e-8)
    # Pi_J = Pi_ext + Pi_d and Phi = Phi_ext + Phi_q with Pi_ext = Phi_ext [GFL20 Eqs. (7)-(9)].
    np.testing.assert_allclose(np.add(data["Pi_ext"], data["Pi_d"]), data["Pi_J"], rtol=1e-10)
    np.testing.assert_allclose(np.add(data["Pi_ext"], data["Phi_q"]), data["Phi"], rtol=1e-10)
    # <a> = alpha sqrt(N) and Pi_ext = 2 kappa |<a>|^2.
    a2 = (np.square(data["alpha_re"]) + np.square(data["alpha_im"])) * N_SMALL
    np.testing.assert_allclose(data["Pi_ext"], 2 * 0.5 * a2, rtol=1e-10)

    calls = []
    real = sweep._kerr_batch
    monkeypatch.setattr(sweep, "_kerr_batch", lambda *a, **k: calls.append(1) or real(*a, **k))
    sweep.kerr_sweep([N_SMALL], eps + [1.0], out, chunk=2, progress=False)
    assert len(calls) == 1  # only the new point is computed
    data = read_csv(out)
    assert sorted(data["eps"]) == sorted(eps + [1.0])


def test_grad_of_pi_d_matches_finite_differences():
    # Near eps_c, on a grid large enough that Q underflows to 0 at its edge (where a naive
    # |A|^2/Q has a NaN derivative): a regression test for that, too.
    N = 10.0
    nmax = sweep.nmax_for_size(N, 1.1, 0.5, -2.0, 1.0)
    grid = polar_grid(nmax)

    def pi_d(e):
        return sweep.kerr_point(Kerr(eps=e, N=N), nmax, grid)["Pi_d"]

    e0, h = 0.95, 1e-4
    g = jax.grad(pi_d)(jnp.asarray(e0))
    # Five-point stencil (error O(h^4)): Pi_d is sharply peaked here and the two-point
    # central difference is itself off by 2e-5 relative at this h (measured).
    fd = (-pi_d(e0 + 2 * h) + 8 * pi_d(e0 + h) - 8 * pi_d(e0 - h) + pi_d(e0 - 2 * h)) / (12 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7)


def test_bad_input_names_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="kappa"):
        sweep.kerr_sweep([5], [0.5], tmp_path / "a.csv", kappa=-1.0, progress=False)
    with pytest.raises(ValueError, match="eps"):
        sweep.kerr_sweep([5], [float("nan")], tmp_path / "b.csv", progress=False)
    with pytest.raises(ValueError, match="N"):
        sweep.kerr_sweep([0], [0.5], tmp_path / "c.csv", progress=False)


def test_cli_writes_csv_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["kerr", "--N", "4", "6", "--eps", "0.6:1.2:3", "--out", str(out),
                 "--nmax-step", "80", "--no-progress"]) == 0
    data = read_csv(out / "kerr.csv")
    assert len(data["eps"]) == 6
    assert set(data["nmax"]) == {80.0}  # both sizes rounded up to one shared truncation
    assert (out / "kerr_fig2.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "eps at max Pi_d/N" in printed
    with pytest.raises(SystemExit):
        main(["kerr", "--eps", "1:2:x", "--out", str(out)])
