"""The notebooks in notebooks/: each runs top to bottom in a Jupyter kernel (its cells assert the
numbers they print), and each is stored with its outputs, which the documentation site shows.

The stored notebooks are only read here. After changing a notebook, or anything that changes
what it prints, store it again with its outputs::

    python tests/test_notebooks.py                  # every notebook
    python tests/test_notebooks.py gfl20 kl_oscillators

(same kernel, working directory and cell timeout as the test; figures inline).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import platform
import sys
import tempfile
import time

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Seconds one cell may take: a guard against a hung kernel, not a speed check. The slowest
#: cell (the fit in critical_points_and_fits, about a minute idle) took most of 468 s for the
#: whole notebook in a CI run, and one run with a slower configuration passed 600 s.
CELL_TIMEOUT = 1800
#: The kernel: ``python3`` whose command ``python`` jupyter_client replaces by this interpreter
#: (``sys.executable``), so the notebooks run in the test's own environment.
KERNEL = "python3"
#: stderr printed by the environment rather than by the notebook (tqdm.auto in a kernel without
#: ipywidgets); left out of the stored outputs.
NOISE = ("TqdmWarning: IProgress not found", "from .autonotebook import tqdm as notebook_tqdm")
#: Notebook metadata key holding the hash of the code the stored outputs came from.
SOURCE_KEY = "jaxent_outputs_of"


def execute(path: pathlib.Path, cwd: str, env: dict[str, str]) -> nbformat.NotebookNode:
    """``path`` executed in a fresh kernel (working directory ``cwd``, environment ``env``);
    raises ``nbclient.exceptions.CellExecutionError`` (with the cell and traceback) if a cell
    fails. The file itself is not touched."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, record_timing=False,
                            resources={"metadata": {"path": cwd}})
    client.execute(env=env)
    return nb


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def source_hash(nb) -> str:
    """sha256 of the code cells' sources (what the outputs depend on)."""
    return hashlib.sha256("\0".join(c.source for c in _code_cells(nb)).encode()).hexdigest()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    # no display (figures only as files); the notebooks' temporary files go to tmp_path
    env = dict(os.environ, MPLBACKEND="Agg", TMPDIR=str(tmp_path))
    before = {p.name: p.read_bytes() for p in NOTEBOOK_DIR.iterdir() if p.is_file()}
    t0 = time.perf_counter()
    nb = execute(path, str(tmp_path), env)
    print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s")
    # the kernel ran this interpreter's Python (jupyter_client put sys.executable in its command)
    assert nb.metadata.language_info.version == platform.python_version()
    assert not [o for c in _code_cells(nb) for o in c.outputs if o.output_type == "error"]
    after = {p.name: p.read_bytes() for p in NOTEBOOK_DIR.iterdir() if p.is_file()}
    assert after == before, "executing a notebook must not write into notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_stored_with_outputs(path):
    """Stored by ``store`` from the code it holds now; every code cell executed, in order, in
    one session; at least one figure; no error and no stderr (a warning in a stored notebook
    reads as a problem on the site)."""
    nb = nbformat.read(path, as_version=4)
    cells = _code_cells(nb)
    assert cells, f"{path.name} has no code cell"
    assert nb.metadata.get(SOURCE_KEY) == source_hash(nb), (
        f"{path.name}: the stored outputs are not those of its code; store it again with "
        f"`python tests/test_notebooks.py {path.stem}`")
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts}; store it with `python tests/test_notebooks.py "
        f"{path.stem}`")
    outputs = [o for c in cells for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name}: no figure"
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{path.name} stores stderr output: {stderr}"


def test_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    # one notebook per paper (GFL20, GFL-quench, KL, MSCPL19) and the two tutorials
    assert {"gfl20", "kerr_quench", "kl_oscillators", "mscpl19_chain", "kerr_quickstart",
            "critical_points_and_fits"} <= names


def _strip_noise(nb) -> None:
    for cell in _code_cells(nb):
        kept = []
        for o in cell.outputs:
            if o.output_type == "stream" and o.name == "stderr":
                lines = [ln for ln in o.text.splitlines(keepends=True)
                         if not any(n in ln for n in NOISE)]
                if not "".join(lines).strip():
                    continue
                o.text = "".join(lines)
            kept.append(o)
        cell.outputs = kept


def store(names: list[str]) -> None:
    """Execute the notebooks named (stems; all if empty) and write them back with outputs."""
    paths = [p for p in NOTEBOOKS if not names or p.stem in names]
    missing = set(names) - {p.stem for p in paths}
    if missing:
        raise SystemExit(f"no such notebook: {sorted(missing)}")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures
    for path in paths:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="notebook_") as cwd:
            nb = execute(path, cwd, dict(env, TMPDIR=cwd))
        _strip_noise(nb)
        nb.metadata[SOURCE_KEY] = source_hash(nb)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s and stored")


if __name__ == "__main__":
    store(sys.argv[1:])
