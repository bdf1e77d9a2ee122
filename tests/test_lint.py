"""The code is lint- and type-clean: ruff on ``jaxent``, ``tests`` and ``benchmarks`` (rules in
pyproject's ``[tool.ruff]``, after equinox's) and pyright on ``jaxent`` (``[tool.pyright]``,
basic mode). Both run from the repository root with the executables of the test environment
(the ``test`` extra installs them). The jaxtyping shapes are checked at run time by every
other test (``tests/conftest.py``)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    """The executable beside this Python (the venv's), else the one on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable} nor on PATH: install the "
                    "test extra (pip install -e '.[test]')")
    return found


def _check_clean(cmd: list[str], timeout: float) -> None:
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (f"`{' '.join(cmd)}` exited with {r.returncode}:\n"
                               f"{r.stdout[-8000:]}\n{r.stderr[-2000:]}")


def test_ruff_clean():
    _check_clean([_tool("ruff"), "check", "jaxent", "tests", "benchmarks"], timeout=300)


def test_pyright_clean():
    _check_clean([_tool("pyright")], timeout=900)


def test_jaxtyping_annotations_checked():
    """``tests/conftest.py`` installed jaxtyping's import hook before jaxent was imported: the
    package's functions run inside jaxtyping's checking wrapper in every test."""
    from jaxent.critical import extrapolate

    assert "jaxtyping" in extrapolate.__code__.co_filename
