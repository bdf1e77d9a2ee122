"""The documentation site: ``mkdocs build --strict`` passes (every cross-reference, link and
anchor resolves, griffe has nothing to warn about), and the pages keep up with the code (every
CLI flag in its user-guide page, every public name in the API index, every public module in
an API page). The build reads files only: no notebook or jaxent code is executed."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_mkdocs_build_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    problems = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(
        problems or log.splitlines()[-30:])
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "api" / "models" / "index.html").is_file()


def _subparsers():
    from jaxent.cli import build_parser  # builds the parsers only (no JAX computation)

    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("command", ["kerr", "dicke", "chain", "oscillators", "quench",
                                     "spectrum", "critical", "fit"])
def test_every_cli_flag_is_documented(command):
    page = (DOCS / "guide" / f"{command}.md").read_text()
    shared = (DOCS / "guide" / "index.md").read_text()
    flags = [s for a in _subparsers()[command]._actions for s in a.option_strings
             if s.startswith("--") and s != "--help"]
    missing = [f for f in flags if f"`{f}" not in page and f"`{f}" not in shared]
    assert not missing, f"docs/guide/{command}.md does not mention {missing}"


def test_every_public_name_is_in_the_api_index():
    tree = ast.parse((ROOT / "jaxent" / "__init__.py").read_text())
    names = [alias.asname or alias.name for node in tree.body
             if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxent")
             for alias in node.names]
    index = (DOCS / "api" / "index.md").read_text()
    missing = [n for n in names if f"[`{n}`]" not in index]
    assert not missing, f"docs/api/index.md does not list {missing}"


def test_every_public_module_has_an_api_page():
    rendered = set()
    for page in (DOCS / "api").glob("*.md"):
        rendered.update(re.findall(r"^::: (jaxent[\w.]*)", page.read_text(), flags=re.M))
    missing = []
    for path in sorted((ROOT / "jaxent").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or len(parts) == 1:  # jaxent: api/index.md
            continue
        module = ".".join(parts)
        # a package page shows its submodules
        if not any(module == r or module.startswith(r + ".") for r in rendered):
            missing.append(module)
    assert not missing, f"no API page has ::: for {missing} (or a package above it)"


def test_images_are_small():
    big = {p.name: p.stat().st_size for p in (DOCS / "img").glob("*")
           if p.stat().st_size > 200_000}
    assert not big, f"images over 200 KB in docs/img: {big}"
