"""The sweep engine (jaxent.sweep) with the Kerr study: NESS identity end to end, resume,
gradient columns, one compilation per shape, storage failures survived, memory refusal, CLI."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.cli import main
from jaxent.io import read_csv
from jaxent.models.kerr import Kerr
from jaxent.studies.kerr import KERR_COLUMNS, KERR_KEY, kerr_point, kerr_sweep
from jaxent.sweep import Study, run_sweep, shape_classes

N_SMALL = 5.0


def test_sweep_writes_identity_satisfying_rows_and_resumes(tmp_path):
    out = tmp_path / "kerr.csv"
    eps = [0.5, 0.933, 1.2]
    r = kerr_sweep([N_SMALL], eps, out, chunk=2, progress=False)
    assert r.computed == 3 and r.flagged == 0
    data = read_csv(out)
    assert sorted(data["eps"]) == eps
    assert set(KERR_COLUMNS) <= set(data)
    # In a NESS Pi_U + Pi_J = Phi [GFL20 Eq. (10)]: an end-to-end check of solver + grid.
    np.testing.assert_array_less(np.abs(data["ness_identity_residual"]), 1e-8)
    np.testing.assert_array_less(data["exact_moment_error"], 1e-10)
    # Pi_J = Pi_ext + Pi_d and Phi = Phi_ext + Phi_q with Pi_ext = Phi_ext [GFL20 Eqs. (7)-(9)].
    np.testing.assert_allclose(np.add(data["Pi_ext"], data["Pi_d"]), data["Pi_J"], rtol=1e-10)
    np.testing.assert_allclose(np.add(data["Pi_ext"], data["Phi_q"]), data["Phi"], rtol=1e-10)
    a2 = (np.square(data["alpha_re"]) + np.square(data["alpha_im"])) * N_SMALL
    np.testing.assert_allclose(data["Pi_ext"], 2 * 0.5 * a2, rtol=1e-10)
    r2 = kerr_sweep([N_SMALL], eps + [1.0], out, chunk=2, progress=False)
    assert (r2.computed, r2.skipped) == (1, 3)  # only the new point is computed
    assert sorted(read_csv(out)["eps"]) == sorted(eps + [1.0])


def test_gradient_columns_are_implicit_derivatives(tmp_path):
    """--grad columns equal jax.grad of the point function and a 5-point finite difference."""
    out = tmp_path / "kerr.csv"
    r = kerr_sweep([10.0], [0.95], out, progress=False, grad=["eps", "delta"])
    row = {k: v[0] for k, v in read_csv(out).items()}
    nmax = int(row["nmax"])
    K = 1024

    def pi_d(e, d):
        return kerr_point(Kerr(eps=e, N=10.0, delta=d), nmax, n_terms=K)["Pi_d"]

    f = jax.jit(pi_d)
    g_e, g_d = jax.jit(jax.grad(pi_d, argnums=(0, 1)))(0.95, -2.0)
    assert row["dPi_d_deps"] == pytest.approx(float(g_e), rel=1e-10)
    assert row["dPi_d_ddelta"] == pytest.approx(float(g_d), rel=1e-10)
    h = 1e-4
    fd = (-f(0.95 + 2 * h, -2.0) + 8 * f(0.95 + h, -2.0) - 8 * f(0.95 - h, -2.0)
          + f(0.95 - 2 * h, -2.0)) / (12 * h)
    assert row["dPi_d_deps"] == pytest.approx(float(fd), rel=1e-7)
    for col in ("dn_photons_deps", "dalpha_re_ddelta", "dPi_U_ddelta"):
        assert col in row and np.isfinite(row[col])
    assert r.computed == 1


def test_one_compilation_per_shape_whatever_the_parameters(tmp_path):
    """N, eps, kappa, delta, u are traced: a second sweep at other values of all of them, on the
    same shapes, compiles nothing; the first compiles once per distinct nmax."""
    r1 = kerr_sweep([4.0, 5.0], [0.5, 0.9], tmp_path / "a.csv", chunk=3, nmax_step=48,
                    progress=False)
    assert len(r1.groups) == 1 and r1.compilations == 1
    r2 = kerr_sweep([3.0, 4.5], [0.6, 0.7, 0.8], tmp_path / "b.csv", chunk=3, nmax_step=48,
                    kappa=0.6, delta=-1.5, u=1.1, progress=False)
    assert r2.groups[0][0] == r1.groups[0][0] and r2.compilations == 0


def test_bad_input_names_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="kappa"):
        kerr_sweep([5], [0.5], tmp_path / "a.csv", kappa=-1.0, progress=False)
    with pytest.raises(ValueError, match="eps"):
        kerr_sweep([5], [float("nan")], tmp_path / "b.csv", progress=False)
    with pytest.raises(ValueError, match="N"):
        kerr_sweep([0], [0.5], tmp_path / "c.csv", progress=False)
    with pytest.raises(ValueError, match="grad"):
        kerr_sweep([5], [0.5], tmp_path / "d.csv", grad=["omega"], progress=False)


def test_huge_sizes_are_refused_with_the_largest_that_fits(tmp_path, monkeypatch):
    with pytest.raises(MemoryError, match=r"largest N that fits .* is about \d+"):
        kerr_sweep([10000], [1.3], tmp_path / "a.csv", progress=False)
    monkeypatch.setenv("JAXENT_MEMORY_BYTES", str(200e6))
    with pytest.raises(MemoryError, match="N=40"):
        kerr_sweep([40], [1.3], tmp_path / "b.csv", progress=False)
    assert not (tmp_path / "b.csv").exists()


def test_a_size_far_beyond_memory_is_refused_at_once(tmp_path, monkeypatch):
    # N = 1e5 has no exact series and asks the banded solver for nmax ~ 2.4e5, whose padded
    # block sizes took minutes to optimise just to be refused; the unpadded lower bound
    # refuses at once (the command took 3 s instead of minutes, most of it the imports)
    import jaxent.lindblad.solvers as solvers
    from jaxent.lindblad.solvers import bucket_bounds
    from jaxent.resources import banded_memory_bytes

    def no_programme_that_large(nmax, n_buckets):
        assert nmax <= 4096, f"bucket_bounds({nmax}) is O(nmax^2): minutes"
        return bucket_bounds(nmax, n_buckets)

    monkeypatch.setattr(solvers, "bucket_bounds", no_programme_that_large)
    with pytest.raises(MemoryError, match=r"N=100000 needs nmax of about \d+"):
        kerr_sweep([100000], [1.0], tmp_path / "a.csv", progress=False)
    # the bound used beyond nmax 4096 is below the padded size it replaces (both at 4096)
    n = 4096
    padded = sum((hi - lo + 1) * (n - lo + 1) ** 2 for lo, hi in bucket_bounds(n, 4))
    assert n * (n + 1) * (2 * n + 1) // 6 - 1 <= padded
    assert banded_memory_bytes(4097) >= banded_memory_bytes(4096) * 0.5


def test_cut_row_and_flagged_rows_are_recomputed(tmp_path):
    out = tmp_path / "kerr.csv"
    # nmax = 14 is too small at eps = 1.3 (<n> = 13): the row is written, flagged, with a warning
    with pytest.warns(RuntimeWarning, match="raise --nmax"):
        r = kerr_sweep([N_SMALL], [0.5, 1.3], out, nmax=14, progress=False)
    assert r.flagged == 1
    data = read_csv(out)
    flags = dict(zip(data["eps"], data["flags"]))
    assert flags[0.5] == "" and "tail" in flags[1.3]
    # cut the last line mid-row, as a kill during a write would
    text = out.read_text()
    out.write_text(text[: len(text) - 20])
    with pytest.warns(RuntimeWarning, match="partial last row"):
        r = kerr_sweep([N_SMALL], [0.5, 1.3], out, nmax=14, progress=False)
    assert r.computed == 1
    # without --recompute-flagged the flagged row stays; with it and a larger nmax it is fixed
    r = kerr_sweep([N_SMALL], [0.5, 1.3], out, progress=False)
    assert r.computed == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = kerr_sweep([N_SMALL], [0.5, 1.3], out, recompute_flagged=True, progress=False)
    assert r.computed == 1
    data = read_csv(out, key=KERR_KEY)
    assert len(data["eps"]) == 2 and all(f == "" for f in data["flags"])
    with open(out) as fh:  # compacted: one row per key, every line complete
        lines = fh.read().splitlines()
    assert len(lines) == 3 and all(len(ln.split(",")) == len(lines[0].split(",")) for ln in lines)


def test_cli_writes_csv_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["kerr", "--N", "4", "6", "--eps", "0.6:1.2:3", "--out", str(out),
                 "--nmax-step", "80", "--no-progress", "--grad", "eps"]) == 0
    data = read_csv(out / "kerr.csv")
    assert len(data["eps"]) == 6 and "dPi_d_deps" in data
    assert set(data["nmax"]) == {80.0}  # both sizes rounded up to one shared truncation
    assert (out / "kerr_fig2.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "eps at max Pi_d/N" in printed and "1 compilation," in printed
    for bad in (["--eps", "1:2:x"], ["--nmax-step", "0"], ["--nmax-step", "-40"],
                ["--nmax", "1"], ["--grad", "omega"]):
        with pytest.raises(SystemExit) as exc:
            main(["kerr", *bad, "--out", str(out)])
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--nmax-step" in err


def test_engine_on_a_toy_study_flags_nonfinite_and_adds_gradient_columns(tmp_path):
    """The engine alone: a one-parameter study, a static shape from the points, a check with its
    fix, a non-finite output flagged by the engine's common policy, exact gradient columns."""
    from jaxent.sweep import Study

    def point(p, static):
        (power,) = static
        return {"y": jnp.sqrt(p["x"]) ** power, "resid": jnp.abs(p["x"]) * 0.0}

    study = Study(name="toy", params=("x",), outputs=("y",), diagnostics=("resid",),
                  point=point, assign_static=lambda pts: [(3,)] * len(pts),
                  checks=lambda row: [("big", "x > 3: use smaller x")] if row["x"] > 3 else [])
    out = tmp_path / "toy.csv"
    with pytest.warns(RuntimeWarning):
        r = run_sweep(study, [{"x": v} for v in (-1.0, 1.0, 4.0)], out, chunk=2, grad=["x"],
                      progress=False)
    d = read_csv(out)
    assert r.computed == 3 and r.flagged == 2 and r.compilations == 1
    flags = dict(zip(d["x"], d["flags"]))
    assert flags == {-1.0: "nonfinite", 1.0: "", 4.0: "big"}
    # y = x^(3/2): dy/dx = 1.5 sqrt(x)
    assert d["dy_dx"][d["x"].index(4.0)] == pytest.approx(3.0, rel=1e-14)


def test_sequential_study_runs_point_by_point_on_cpu_with_the_same_rows(tmp_path):
    """A ``sequential`` study (data-dependent loops: the spectra, the quenches; the Kerr point)
    runs its chunk with ``lax.map`` on one CPU device (a vmapped loop runs until its slowest
    member is done), with the same rows and gradient columns as ``vmap``."""
    import dataclasses

    from jaxent.sweep import batch_function, point_by_point

    def point(p, static):
        # Heron's square root to 1e-15, a number of steps that depends on x
        def body(c):
            y, k = c
            return 0.5 * (y + p["x"] / y), k + 1

        y, k = jax.lax.while_loop(
            lambda c: jnp.abs(c[0] ** 2 - p["x"]) > 1e-15 * p["x"], body, (p["x"] + 1.0, 0))
        return {"y": y, "resid": k.astype(jnp.float64)}

    base = Study(name="toy_loop", params=("x",), outputs=("y",), diagnostics=("resid",),
                 point=point, assign_static=lambda pts: [()] * len(pts),
                 checks=lambda row: [])
    loop = dataclasses.replace(base, name="toy_loop_map", sequential=True)
    xs = [{"x": v} for v in (0.5, 2.0, 1e6, 7.0, 3.0)]
    rows = {}
    for st in (base, loop):
        run_sweep(st, xs, tmp_path / f"{st.name}.csv", chunk=4, grad=["x"], progress=False)
        rows[st.name] = read_csv(tmp_path / f"{st.name}.csv")
    a, b = rows["toy_loop"], rows["toy_loop_map"]
    np.testing.assert_allclose(b["y"], np.sqrt(b["x"]), rtol=1e-15)
    for col in ("x", "y", "resid", "dy_dx"):
        np.testing.assert_allclose(b[col], a[col], rtol=1e-15)
    assert len(set(b["resid"])) > 1  # the loops took different numbers of steps
    assert point_by_point() == (jax.default_backend() == "cpu" and jax.device_count() == 1)
    batch = {"x": jnp.ones(4)}
    mapped = str(jax.make_jaxpr(batch_function(loop, ()))(batch, None))
    vmapped = str(jax.make_jaxpr(batch_function(base, ()))(batch, None))
    assert ("scan" in mapped) == point_by_point() and "scan" not in vmapped
    # point by point, the padding of a last chunk (VALID False) is skipped, not computed
    from jaxent.sweep import VALID

    padded = {"x": jnp.full(4, 4.0), VALID: jnp.arange(4) < 1}
    out = batch_function(loop, ())(padded, None)
    want = [2.0, 0.0, 0.0, 0.0] if point_by_point() else [2.0] * 4
    np.testing.assert_allclose(np.asarray(out["y"]), want, rtol=1e-15)
    # by a loop over the valid points, not a lax.cond per point (whose operands, the grid
    # tables of a Kerr point, XLA copied at every point)
    if point_by_point():
        assert "cond[" not in str(jax.make_jaxpr(batch_function(loop, ()))(padded, None))


def test_study_constants_are_arguments_not_compiled_in(tmp_path):
    # a toy study: its constants are built once per static group and reach the point
    built = []

    def constants(static):
        built.append(static)
        return jnp.arange(4.0) * static[0]

    def point(p, static, c):
        return {"y": p["x"] * jnp.sum(c), "resid": jnp.zeros(())}

    study = Study(name="toy_constants", params=("x",), outputs=("y",), diagnostics=("resid",),
                  point=point, assign_static=lambda pts: [(1.0 + (p["x"] > 2),) for p in pts],
                  checks=lambda row: [], constants=constants)
    r = run_sweep(study, [{"x": v} for v in (1.0, 2.0, 3.0, 4.0)], tmp_path / "c.csv", chunk=1,
                  progress=False)  # two chunks per group, one build per group
    d = read_csv(tmp_path / "c.csv")
    assert r.computed == 4 and sorted(built) == [(1.0,), (2.0,)]
    np.testing.assert_allclose(d["y"], [6.0, 12.0, 36.0, 48.0], rtol=0, atol=0)
    # the Kerr study's Husimi grid (0.41 MB of tables at nmax = 96) is an argument of the
    # compiled sweep program, not a constant inside it (a constant cost 1.2 s of compilation and
    # 0.3 s per persistent-cache read at nmax = 176 with the former 77 MB table; compiled in,
    # the program text here is 0.73 MB, as an argument 0.1 MB)
    from jaxent.studies.kerr import make_study
    from jaxent.sweep import batch_function

    kstudy = make_study()
    static = (96, 1024)
    grid = kstudy.constants(static)
    batch = {k: jnp.full((2,), v) for k, v in
             dict(N=5.0, eps=0.9, kappa=0.5, delta=-2.0, u=1.0).items()}
    text = batch_function(kstudy, static).lower(batch, grid).as_text()
    table_bytes = sum(x.nbytes for x in jax.tree.leaves(grid))
    assert table_bytes > 4e5 and len(text) < 0.5 * table_bytes


def test_zero_pump_is_the_vacuum_and_not_flagged(tmp_path):
    """eps = 0: the NESS is the vacuum (Phi = 0); the identity and exact-moment diagnostics must
    not divide by zero and flag a valid point."""
    r = kerr_sweep([N_SMALL], [0.0, 1e-6], tmp_path / "k.csv", progress=False)
    d = read_csv(tmp_path / "k.csv")
    assert r.flagged == 0 and d["flags"] == ["", ""]
    assert abs(d["n_photons"][0]) < 1e-12 and abs(d["Pi_d"][0]) < 1e-12


def test_shape_classes_minimise_the_estimated_time():
    """The dynamic programme equals a brute force over every subset of classes, on random
    costs; the largest size is always a class and no size is padded down."""
    import itertools

    rng = np.random.default_rng(3)
    for _ in range(30):
        k = int(rng.integers(1, 7))
        sizes = sorted(rng.choice(np.arange(8, 300), k, replace=False).tolist())
        counts = rng.integers(0, 60, k).tolist()
        c0, c1, r0, p = rng.uniform(0, 10), rng.uniform(0, 0.05), rng.uniform(1e-3, 0.5), \
            rng.uniform(1, 4)

        def comp(n, c0=c0, c1=c1):
            return c0 + c1 * n

        def run(n, r0=r0, p=p):
            return r0 * (n / 100) ** p

        def total(mapping):
            return (sum(comp(c) for c in set(mapping.values()))
                    + sum(n * run(mapping[s]) for s, n in zip(sizes, counts)))

        got = shape_classes(sizes, counts, comp, run)
        assert all(got[s] >= s for s in sizes) and got[sizes[-1]] == sizes[-1]
        best = math.inf
        for r in range(k):
            for sub in itertools.combinations(sizes[:-1], r):
                cls = sorted(sub) + [sizes[-1]]
                best = min(best, total({s: min(c for c in cls if c >= s) for s in sizes}))
        assert math.isclose(total(got), best, rel_tol=1e-12), (sizes, counts, got)
    # free compilations: every size is its own class; free padding: one class
    assert shape_classes([10, 20, 30], [5, 5, 5], lambda n: 0.0, lambda n: n) == \
        {10: 10, 20: 20, 30: 30}
    assert set(shape_classes([10, 20, 30], [5, 5, 5], lambda n: 1.0, lambda n: 0.0).values()) \
        == {30}
    assert shape_classes([], [], lambda n: 1.0, lambda n: 1.0) == {}
    assert shape_classes([7, 7, 3], [1, 2, 0], lambda n: 1.0, lambda n: n) == {3: 7, 7: 7}
    for sizes, counts, msg in (([10.5], [1], "sizes must be positive integers"),
                               ([0], [1], "sizes must be positive integers"),
                               ([float("inf")], [1], "sizes must be positive integers"),
                               ([10], [2.5], "counts must be non-negative integers"),
                               ([10], [float("nan")], "counts must be non-negative integers"),
                               ([5, 7], [1], "differ in length")):
        with pytest.raises(ValueError, match=msg):
            shape_classes(sizes, counts, lambda n: 1.0, lambda n: 1.0)


def test_default_kerr_sweep_pads_sizes_to_fewer_classes():
    """The default sweep (N = 10..40 step 5, 45 pumps each) needs nmax 64..176 in steps of 16
    (seven compilations); padded to its shape classes it compiles two programs, nmax 128 for
    N = 10..25 and 176 for N = 30..40 (with the exact state a point costs 8 ms at nmax 128, 15
    ms at 176, and a compilation 1.3 s: the cost model in jaxent.studies.kerr), and no size
    gets less than it needs."""
    from jaxent.commands._args import parse_values
    from jaxent.commands.kerr import DEFAULT_EPS, DEFAULT_N
    from jaxent.studies.kerr import make_study, nmax_for_points

    Ns = np.unique(parse_values(DEFAULT_N, "N"))
    eps = np.unique(parse_values(DEFAULT_EPS, "eps"))
    points = [dict(N=float(N), eps=float(e), kappa=0.5, delta=-2.0, u=1.0) for N in Ns
              for e in eps]
    statics = make_study().assign_static(points)
    need = {float(N): nmax_for_points(N, eps, 0.5, -2.0, 1.0, 16) for N in Ns}
    got = {p["N"]: st[0] for p, st in zip(points, statics)}
    assert len(set(need.values())) == 7 and {st[0] for st in statics} == {128, 176}
    assert {N: got[N] for N in need} == {N: 128 if N <= 25 else 176 for N in need}
    assert all(got[N] >= need[N] for N in need) and got[40.0] == need[40.0]
    # a fixed nmax is left alone
    assert {st[0] for st in make_study(nmax=50).assign_static(points)} == {50}


def test_interrupt_is_a_keyboard_interrupt_that_says_what_was_saved(tmp_path, monkeypatch):
    """Ctrl-C in the middle of a sweep raises SweepInterrupted (a KeyboardInterrupt) with the
    rows in the file and the points computed by this run; those rows are complete."""
    import jaxent.io as jio
    from jaxent.sweep import SweepInterrupted

    append = jio.ResumableCSV.append
    calls = []

    def interrupted_append(self, rows):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        append(self, rows)

    monkeypatch.setattr(jio.ResumableCSV, "append", interrupted_append)
    path = tmp_path / "k.csv"
    with pytest.raises(KeyboardInterrupt) as info:
        kerr_sweep([4.0], [0.5, 0.6, 0.7, 0.8, 0.9], path, chunk=2, nmax=16, progress=False)
    exc = info.value
    assert isinstance(exc, SweepInterrupted)
    assert (exc.path, exc.rows, exc.computed) == (str(path), 4, 4)
    assert len(read_csv(path, key=KERR_KEY)["eps"]) == 4



def test_an_interrupt_request_stops_the_sweep_once(tmp_path):
    """interrupt_sweeps (what the console's SIGINT handler calls besides raising; Python
    swallows a KeyboardInterrupt raised inside a gc callback, jax's among them) stops a sweep
    before its next chunk with SweepInterrupted, once: the next run completes."""
    from jaxent.cli import _on_sigint
    from jaxent.sweep import SweepInterrupted

    path = tmp_path / "k.csv"
    # the handler raises, and leaves the request behind even if the exception is swallowed
    try:
        _on_sigint(2, None)
    except KeyboardInterrupt:
        pass
    with pytest.raises(SweepInterrupted) as info:
        kerr_sweep([4.0], [0.5, 0.6], path, chunk=2, nmax=16, progress=False)
    assert (info.value.rows, info.value.computed) == (0, 0)
    r = kerr_sweep([4.0], [0.5, 0.6], path, chunk=2, nmax=16, progress=False)
    assert r.computed == 2 and len(read_csv(path, key=KERR_KEY)["eps"]) == 2
    # and the console's unraisable hook reports other swallowed exceptions, not that one
    import types

    from jaxent.cli import _quiet_interrupts

    seen = []
    hook = _quiet_interrupts(seen.append)
    for exc in (KeyboardInterrupt, ValueError):
        hook(types.SimpleNamespace(exc_type=exc))
    assert [u.exc_type for u in seen] == [ValueError]
