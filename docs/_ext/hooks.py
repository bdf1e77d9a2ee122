"""MkDocs hooks (``hooks:`` in ``mkdocs.yml``).

The ``Notebooks`` section of the nav lists the notebooks in their reading order; notebooks are
added to ``notebooks/`` by their own work, so this hook keeps the entries whose file exists
(a missing one would fail ``--strict``) and appends any other notebook found there, so that
every notebook in the repository is on the site.
"""

from __future__ import annotations

from pathlib import Path

NOTEBOOKS = "notebooks"


def _notebook_section(nav):
    for item in nav or []:
        if isinstance(item, dict) and "Notebooks" in item:
            return item
    return None


def on_config(config, **kwargs):
    section = _notebook_section(config["nav"])
    if section is None:
        return config
    docs = Path(config["docs_dir"])
    listed = [e for e in section["Notebooks"] if isinstance(e, str)]
    present = [e for e in listed if (docs / e).is_file()]
    extra = sorted(f"{NOTEBOOKS}/{p.name}" for p in (docs / NOTEBOOKS).glob("*.ipynb")
                   if f"{NOTEBOOKS}/{p.name}" not in listed)
    section["Notebooks"] = present + extra
    if not section["Notebooks"]:
        config["nav"].remove(section)
    return config
