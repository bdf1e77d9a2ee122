r"""One sweep engine for every model: a point function, its parameters as arrays, chunked
``vmap``, sharding over devices, progress, resumable storage, diagnostics and gradient columns.

A model registers a :class:`Study`:

- ``params``: the traced float parameters of one point (all key columns of the table);
  ``labels``: string key columns (e.g. a coupling type), which are static;
- ``assign_static(points)``: the static data of each point (Python values that set shapes or
  choose code paths, e.g. the Fock truncation ``nmax``); points with equal static data share
  one compilation, whatever their parameter values;
- ``point(p, static)``: ``p`` maps each name of ``params`` to a float64 scalar; returns a dict of
  scalars holding every name of ``outputs`` (physics, differentiable) and ``diagnostics``
  (error control);
- ``constants(static)`` (optional): arrays that depend on the static data only (e.g. the
  Husimi grid's tables), built once per group outside ``jit`` and passed to the compiled batch
  function as an argument, so they are not baked into the executable (the grid's former 77 MB
  table, as a constant, lengthened compilation by 1.2 s and each persistent-cache read by
  0.3 s; its factored tables are 1.2 MB); the point is then
  called as ``point(p, static, constants)``;
- ``checks(row)``: the problems of a finished row, each ``(flag, message with the fix)``;
- ``static_columns(static)``: columns written from the static data (e.g. ``nmax``);
- ``preflight(static, chunk)``: raise (``MemoryError``/``ValueError``, one line with the fix)
  before computing a group that cannot fit;
- ``series`` and ``series_values(point, static)`` (optional): a point computes a whole series,
  e.g. a trajectory over save times ``t``. ``series_values`` gives its ``(T,)`` values
  (concrete; ``T`` is fixed per static group, the values are traced), the point function finds
  them in ``p[series]`` and returns ``(T,)`` arrays (scalars are repeated), and the table gets
  one row per point and series value, keyed by the parameters and ``series``. A point is done
  when all its rows are stored.
- ``sequential``: on one CPU device a chunk is evaluated point by point (``jax.lax.map``)
  instead of by ``vmap``. For points that run data-dependent loops (Arnoldi to convergence, an
  adaptive ODE): a vmapped loop runs until its slowest member is done and gains nothing from
  batching the small solves of each step on a CPU (the spectrum's chunk of 8 at nmax 64:
  3.6 s by ``vmap``, 1.35 s point by point, and 10.1 s to compile instead of 15.4 s). And for
  points whose working set stays in cache one at a time but not a chunk at a time (the Kerr
  point at nmax 176: 15 ms point by point, 21.5 ms in a vmapped chunk of 8). On an
  accelerator, or several devices, ``vmap`` runs the points in parallel.

:func:`run_sweep` evaluates the points ``chunk`` at a time with ``jax.vmap`` under one ``jax.jit``
per (study, static, chunk, gradient parameters), pads the last chunk so nothing recompiles, shards
a chunk across devices when there are several, writes each chunk to a
:class:`~jaxent.io.ResumableCSV` as it finishes (a re-run resumes; ``recompute_flagged``
recomputes rows that failed a check), adds ``d<output>_d<param>`` columns by ``jax.jacfwd``
through the point (exact derivatives of the steady state), and applies one failure policy:
every row is written, its failed checks go in the ``flags`` column, and a warning says what to
change.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jaxent.io import ResumableCSV

with warnings.catch_warnings():
    # in a Jupyter kernel without ipywidgets tqdm.auto warns (TqdmWarning) and uses text bars
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

FLAGS = "flags"


class SweepWarning(RuntimeWarning):
    """Rows of a sweep failed an error-control check (they are written, with ``flags``)."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`, after the rows finished so far were saved: ``rows``
    rows (distinct keys) are in the file ``path``, ``computed`` points of them by this run. A
    ``KeyboardInterrupt``, so code that catches that still does."""

    def __init__(self, path: str, rows: int, computed: int):
        super().__init__(f"{rows} row{'s' * (rows != 1)} saved to {path}")
        self.path, self.rows, self.computed = path, rows, computed


@dataclasses.dataclass(frozen=True, eq=False)
class Study:
    """A model's registration with the sweep engine (module docstring)."""

    name: str
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    diagnostics: tuple[str, ...]
    point: Callable[..., dict[str, jax.Array]]
    assign_static: Callable[[list[dict]], list[Any]]
    checks: Callable[[dict], list[tuple[str, str]]]
    labels: tuple[str, ...] = ()
    static_columns: Callable[[Any], dict] = lambda static: {}
    static_names: tuple[str, ...] = ()
    preflight: Callable[[Any, int], None] | None = None
    describe: Callable[[Any], str] = lambda static: ""
    series: str | None = None
    series_values: Callable[[dict, Any], ArrayLike] | None = None
    constants: Callable[[Any], Any] | None = None
    sequential: bool = False

    @property
    def key(self) -> list[str]:
        return list(self.params) + list(self.labels) + ([self.series] if self.series else [])

    def columns(self, grad: Sequence[str] = ()) -> list[str]:
        return (self.key + list(self.static_names) + list(self.outputs) + list(self.diagnostics)
                + grad_columns(self.outputs, grad) + [FLAGS])


def shape_classes(sizes: Sequence[int], counts: Sequence[int],
                  compile_seconds: Callable[[int], float],
                  point_seconds: Callable[[int], float]) -> dict[int, int]:
    r"""The shape classes that minimise a sweep's estimated time, compilation included.

    Group ``g`` needs a static size of at least ``sizes[g]`` (e.g. a Fock truncation) for its
    ``counts[g]`` points. Padding a group up to a larger size costs run time (``r(s)`` =
    ``point_seconds(s)`` per point, which must not decrease with ``s``) and saves a compilation
    (``c(s)`` = ``compile_seconds(s)``); the classes are a subset of the sizes (the largest
    always among them), each group padded to the smallest class that holds it, chosen by an
    exact dynamic programme over the distinct sizes in increasing order ``s_1 < ... < s_k``
    with ``n_l`` points each: $T_j = \min_{i<j} T_i + c(s_j) + r(s_j) \sum_{i<l\le j} n_l$,
    ``O(k^2)``.

    **Returns:** a dict from each distinct size to the class it is padded to (``>=`` it).
    ``ValueError`` if a size is not a positive integer, a count not a non-negative integer, or
    the two lists differ in length.
    """
    if len(sizes) != len(counts):
        raise ValueError(f"sizes and counts differ in length ({len(sizes)} vs {len(counts)})")
    need: dict[int, int] = {}
    for s, n in zip(sizes, counts):
        if not (math.isfinite(s) and int(s) == s and s >= 1):
            raise ValueError(f"sizes must be positive integers, got {s}")
        if not (math.isfinite(n) and int(n) == n and n >= 0):
            raise ValueError(f"counts must be non-negative integers, got {n}")
        need[int(s)] = need.get(int(s), 0) + int(n)
    v = sorted(need)
    if not v:
        return {}
    cum = np.concatenate([[0], np.cumsum([need[x] for x in v])])
    best = [0.0] + [math.inf] * len(v)  # best[j]: groups v[:j] covered, v[j-1] a class
    prev = [0] * (len(v) + 1)
    for j in range(1, len(v) + 1):
        c, r = compile_seconds(v[j - 1]), point_seconds(v[j - 1])
        for i in range(j):
            t = best[i] + c + r * float(cum[j] - cum[i])
            if t < best[j]:
                best[j], prev[j] = t, i
    out: dict[int, int] = {}
    j = len(v)
    while j > 0:
        i = prev[j]
        for x in v[i:j]:
            out[x] = v[j - 1]
        j = i
    return out


def grad_columns(outputs: Sequence[str], grad: Sequence[str]) -> list[str]:
    """``d<output>_d<param>`` for every output and every parameter in ``grad``."""
    return [f"d{o}_d{p}" for p in grad for o in outputs]


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` did: the CSV ``path``, the points ``computed`` in this run,
    ``skipped`` (already in the file), ``flagged`` (written with failed checks),
    ``compilations`` (traces of the batch function; a persistent-cache hit counts too), the
    wall time in ``seconds``, and ``groups``: ``(static, number of points)`` per static shape."""

    path: str
    computed: int = 0
    skipped: int = 0
    flagged: int = 0
    compilations: int = 0  # traces of the batch function (a persistent-cache hit counts too)
    seconds: float = 0.0
    groups: list = dataclasses.field(default_factory=list)


# (study name, point function, static, grad) -> jitted batch function; and trace counts
_COMPILED: dict = {}
TRACE_COUNT: dict = defaultdict(int)


#: Optional key of a batch: a ``(chunk,)`` bool array, True for the points and False for the
#: padding of a last chunk, which comes after them (point by point, the padding is skipped and
#: its outputs are zeros).
VALID = "__valid__"


def batch_function(study: Study, static, grad: tuple[str, ...] = ()):
    """The jitted point function of ``study`` at ``static`` over a chunk (cached): vmapped, or
    point by point for a ``sequential`` study on one CPU device (module docstring). Its
    arguments are a dict of ``(chunk,)`` float64 arrays, one per parameter (and optionally
    :data:`VALID`), and the study's ``constants`` at ``static`` (``None`` without); it returns a
    dict of ``(chunk,)`` arrays (outputs, diagnostics and gradient columns)."""
    cache_key = (study.name, study.point, study.constants is None, static, tuple(grad))
    fn = _COMPILED.get(cache_key)
    if fn is not None:
        return fn

    def point(p, consts):
        if study.constants is None:
            return study.point(p, static)
        return study.point(p, static, consts)

    def one(p, consts):
        if not grad:
            return point(p, consts)

        def f(sub):
            out = point({**p, **sub}, consts)
            return {o: out[o] for o in study.outputs}, out

        jac, out = jax.jacfwd(f, has_aux=True)({g: p[g] for g in grad})
        out = dict(out)
        for o in study.outputs:
            for g in grad:
                out[f"d{o}_d{g}"] = jac[o][g]
        return out

    by_point = study.sequential and point_by_point()

    def batched(ps, consts):
        TRACE_COUNT[(study.name, static, tuple(grad))] += 1  # runs once per trace
        ps = dict(ps)
        valid = ps.pop(VALID, None)
        if not by_point:
            return jax.vmap(one, in_axes=(0, None))(ps, consts)
        if valid is None:
            return jax.lax.map(lambda p: one(p, consts), ps)
        # the padding of a last chunk costs nothing: the loop stops after the valid points,
        # a prefix of the chunk (a vmapped batch computes the padding alongside; point by point
        # it would cost as much as real points). A loop of dynamic length, not a lax.cond per
        # point: XLA copied the cond's operands, the grid tables among them, at every point
        # (24.5-25.8 ms a Kerr point at N = 40 against 18.4-21.1 ms without).
        shapes = jax.eval_shape(one, jax.tree.map(lambda x: x[0], ps), consts)
        size = valid.shape[0]

        def body(i, out):
            res = one(jax.tree.map(lambda x: x[i], ps), consts)
            return jax.tree.map(lambda o, v: o.at[i].set(v), out, res)

        out = jax.tree.map(lambda s: jnp.zeros((size,) + s.shape, s.dtype), shapes)
        return jax.lax.fori_loop(0, jnp.sum(valid), body, out)

    fn = jax.jit(batched)
    _COMPILED[cache_key] = fn
    return fn


def point_by_point() -> bool:
    """Whether a ``sequential`` study's chunk runs point by point (``jax.lax.map``): on a single
    CPU device (module docstring)."""
    return jax.default_backend() == "cpu" and jax.device_count() == 1


def _shard(batch: dict) -> dict:
    """Spread a batch over all devices along its first axis (no-op on one device)."""
    devices = jax.devices()
    if len(devices) == 1:
        return batch
    mesh = jax.sharding.Mesh(np.array(devices), ("points",))
    sh = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("points"))
    return {k: jax.device_put(v, sh) for k, v in batch.items()}


def _key_of(study: Study, pt: dict) -> dict:
    return {k: pt[k] for k in list(study.params) + list(study.labels)}


def _series(study: Study, pt: dict, static) -> np.ndarray:
    assert study.series_values is not None  # a study with a series has its values
    vals = np.asarray(study.series_values(pt, static), dtype=float)
    if vals.ndim != 1 or vals.size < 1 or not np.all(np.isfinite(vals)):
        raise ValueError(f"{study.series}: must be a non-empty 1-D array of finite values, got "
                         f"{vals!r}")
    return vals


def _is_done(study: Study, store, pt: dict, static) -> bool:
    key = _key_of(study, pt)
    if not study.series:
        return store.is_done(**key)
    return all(store.is_done(**key, **{study.series: float(v)})
               for v in _series(study, pt, static))


_INTERRUPT = threading.Event()


def interrupt_sweeps() -> None:
    """Make a running :func:`run_sweep` stop before its next chunk as a Ctrl-C does
    (:class:`SweepInterrupted`, what was saved), once. The console command's SIGINT handler
    calls it before raising ``KeyboardInterrupt``: Python swallows an exception raised while the
    garbage collector runs a callback (jax runs one after its compilations), and a Ctrl-C that
    landed there was lost, once in 6 tries at 2.3 s into ``jaxent kerr``, and the sweep ran on
    to the end."""
    _INTERRUPT.set()


def _check_interrupt() -> None:
    if _INTERRUPT.is_set():
        _INTERRUPT.clear()
        raise KeyboardInterrupt


def run_sweep(study: Study, points: Sequence[dict], out_csv: str | os.PathLike, *,
              chunk: int = 8, grad: Sequence[str] = (), recompute_flagged: bool = False,
              progress: bool = True) -> SweepResult:
    """Evaluate ``study`` at every point (dicts of key values) into ``out_csv`` (module
    docstring). Returns a :class:`SweepResult` (counts, compilations, wall time); a Ctrl-C
    raises :class:`SweepInterrupted` (what was saved) after the finished chunks are stored."""
    t0 = time.perf_counter()
    grad = tuple(grad)
    unknown = [g for g in grad if g not in study.params]
    if unknown:
        raise ValueError(f"--grad: unknown parameter(s) {unknown}; choose from "
                         f"{list(study.params)}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    ndev = len(jax.devices())
    chunk = ndev * math.ceil(chunk / ndev)
    result = SweepResult(path=os.fspath(out_csv))
    traces_before = sum(TRACE_COUNT.values())
    with ResumableCSV(out_csv, study.columns(grad), key=study.key, flag_column=FLAGS,
                      recompute_flagged=recompute_flagged) as store:
        if study.series:  # the series values may depend on the static data
            all_statics = study.assign_static([dict(p) for p in points]) if points else []
            pairs = [(dict(p), st) for p, st in zip(points, all_statics)
                     if not _is_done(study, store, p, st)]
            todo = [p for p, _ in pairs]
            statics = [st for _, st in pairs]
        else:
            todo = [dict(p) for p in points if not store.is_done(**_key_of(study, p))]
            statics = study.assign_static(todo) if todo else []
        result.skipped = len(points) - len(todo)
        groups: dict = {}
        for pt, st in zip(todo, statics):
            groups.setdefault(st, []).append(pt)
        if study.preflight is not None:
            for st in groups:
                study.preflight(st, chunk)
        result.groups = [(st, len(g)) for st, g in groups.items()]
        # the columns whose non-finite values flag a row
        cols = list(study.outputs) + grad_columns(study.outputs, grad)
        bar = tqdm(total=len(todo), disable=not progress, unit="pt", desc=f"{study.name} sweep")
        try:
            for st, pts in groups.items():
                desc = study.describe(st)
                if desc:
                    bar.set_postfix_str(desc)
                fn = batch_function(study, st, grad)
                consts = None if study.constants is None else study.constants(st)
                for start in range(0, len(pts), chunk):
                    _check_interrupt()
                    part = pts[start:start + chunk]
                    padded = part + [part[-1]] * (chunk - len(part))
                    # numpy, which the jitted function takes as it is (jnp.asarray would
                    # compile a small conversion program per shape in every process)
                    batch: dict[str, np.ndarray] = {
                        k: np.asarray([float(p[k]) for p in padded], np.float64)
                        for k in study.params}
                    if study.series:
                        batch[study.series] = np.asarray(
                            np.stack([_series(study, p, st) for p in padded]), np.float64)
                    batch[VALID] = np.arange(chunk) < len(part)
                    out = jax.device_get(fn(_shard(batch), consts))
                    rows = []
                    problems = []
                    for i, pt in enumerate(part):
                        base = {**_key_of(study, pt), **study.static_columns(st)}
                        for k in study.params:
                            base[k] = float(pt[k])
                        if study.series:
                            svals = np.asarray(batch[study.series][i])
                            cells = [{study.series: float(t)} for t in svals]
                            for j, cell in enumerate(cells):
                                # (T,) outputs give one value per row, scalars are repeated
                                cell.update({k: float(np.real(v[i] if np.ndim(v[i]) == 0
                                                              else v[i][j]))
                                             for k, v in out.items()})
                        else:
                            cells = [{k: float(np.real(np.asarray(v[i])))
                                      for k, v in out.items()}]
                        for cell in cells:
                            row = {**base, **cell}
                            found = list(study.checks(row))
                            # one policy for every model: a row with a non-finite physics value or
                            # gradient is always flagged (by the study's own reason if it gave one)
                            bad = [o for o in cols if not math.isfinite(row[o])]
                            if bad and not found:
                                found.append(("nonfinite", f"non-finite {', '.join(bad)}"))
                            row[FLAGS] = ";".join(f for f, _ in found)
                            if found:
                                problems.append((row, found))
                            rows.append(row)
                    store.append(rows)
                    result.computed += len(part)
                    result.flagged += len(problems)
                    if problems:
                        row, found = problems[0]
                        where = ", ".join(f"{k}={row[k]:.6g}" if isinstance(row[k], float)
                                          else f"{k}={row[k]}" for k in study.key)
                        more = f" (and {len(problems) - 1} more rows in this chunk)" \
                            if len(problems) > 1 else ""
                        warnings.warn(f"{study.name}: {where}: "
                                      + "; ".join(m for _, m in found) + more
                                      + "; the rows are written with their flags "
                                      "(re-run with --recompute-flagged after the fix)",
                                      SweepWarning, stacklevel=2)
                    bar.update(len(part))
        except KeyboardInterrupt:
            # every finished chunk is already flushed and fsynced (ResumableCSV.append)
            raise SweepInterrupted(os.fspath(out_csv), len(store), result.computed) from None
        finally:
            bar.close()
    result.compilations = sum(TRACE_COUNT.values()) - traces_before
    result.seconds = time.perf_counter() - t0
    return result


def enable_compilation_cache(path: str | None = None) -> str:
    """Persist XLA compilations on disk (``JAXENT_CACHE_DIR``, default
    ``~/.cache/jaxent/xla``), so a repeated command does not compile again."""
    path = path or os.environ.get("JAXENT_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "jaxent", "xla")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return ""
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
