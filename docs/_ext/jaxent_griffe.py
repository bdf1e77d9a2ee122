"""Griffe extension for the API reference (loaded by mkdocstrings, see ``mkdocs.yml``).

jaxent's docstrings are Markdown prose with reST roles (``:func:`name```, ``:class:`~a.b.C```)
and ``#:`` comments above module constants. This extension, run once on the loaded package
(static analysis only: nothing is imported or executed),

- turns each role into an autorefs cross-reference ``[`name`][jaxent.full.path]`` when its
  target is a jaxent object that the reference renders (public, with a docstring), and into
  plain code ``name`` otherwise (private helpers, other libraries), so that ``mkdocs build
  --strict`` fails on a reference that should resolve and does not, and never on one that
  cannot;
- gives module and class attributes without a docstring the ``#:`` comment lines just above
  them (the Sphinx convention the code uses), so the constants appear in the reference;
- escapes ``<`` in prose (outside code spans and maths), which Markdown would read as HTML;
- renders an indented display line made of code (reST's quoted formula, e.g.
  ``    ``lambda_c = ...``    [GFL20, App. C]``) as a block quote, not as a code block that
  would show the backticks;
- starts a list that directly follows a line ending in ``:`` (``**Arguments:**`` then
  ``- x: ...``) on a new block, as Markdown needs a blank line there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|obj|exc|const):`(~?)([^`]+)`")
# code spans, display and inline maths, roles: left as they are by the prose escaping
_PROTECTED = re.compile(r"``.+?``|`[^`\n]+`|\$\$.+?\$\$|\$[^$]+?\$|" + _ROLE.pattern, re.S)


def _walk(obj: griffe.Object):
    yield obj
    for member in list(obj.members.values()):
        if member.is_alias:
            continue
        yield from _walk(member)


def _rendered(obj: griffe.Object) -> bool:
    """Whether the API reference shows ``obj`` (mirrors the handler options in mkdocs.yml)."""
    parts = obj.path.split(".")
    if parts[0] != "jaxent":
        return False
    if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts):
        return False
    return obj.is_module or obj.has_docstrings


class JaxentDocstrings(griffe.Extension):
    """Cross-references for reST roles and ``#:`` attribute comments (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.unresolved: list[str] = []

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != "jaxent":
            return
        objects = list(_walk(pkg))
        for obj in objects:  # first the comments, so that constants count as documented
            if obj.is_attribute and not obj.docstring:
                text = self._comment_docstring(obj)
                if text:
                    obj.docstring = griffe.Docstring(text, parent=obj)
        for obj in objects:
            if obj.docstring and obj.docstring.value:
                obj.docstring.value = self._convert(obj.docstring.value, obj)

    @staticmethod
    def _comment_docstring(attr: griffe.Object) -> str:
        try:
            lines = Path(attr.filepath).read_text().splitlines()  # type: ignore[arg-type]
        except (OSError, TypeError):
            return ""
        i = (attr.lineno or 0) - 2  # the line above the assignment (0-based)
        block: list[str] = []
        while i >= 0 and lines[i].strip().startswith("#:"):
            block.append(lines[i].strip()[2:].strip())
            i -= 1
        return "\n".join(reversed(block))

    def _resolve(self, target: str, obj: griffe.Object) -> griffe.Object | None:
        """The jaxent object a role names: an absolute path, or a name seen from ``obj``'s
        scopes (the object, its class, its module, the packages above), imports included."""
        scopes: list[griffe.Object] = []
        scope: griffe.Object | None = obj
        while scope is not None:
            if not scope.is_attribute and not scope.is_function:
                scopes.append(scope)
            scope = scope.parent
        if target.startswith("."):  # relative to the module's package
            module = obj.module
            base = module if module.is_package else module.parent
            candidates = [(base, target[1:])] if base is not None else []
        else:
            root = scopes[-1]
            candidates = [(s, target) for s in scopes]
            if target.startswith("jaxent."):
                candidates.insert(0, (root, target[len("jaxent."):]))
        for scope, name in candidates:
            try:
                found = scope[name]
                if found.is_alias:
                    found = found.final_target
                return found
            except Exception:  # noqa: BLE001 (missing member, external alias)
                continue
        return None

    @staticmethod
    def _quote_displays(text: str) -> str:
        lines = text.split("\n")
        i = 0
        while i < len(lines):
            if lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
                j = i
                while j < len(lines) and lines[j].startswith("    "):
                    j += 1
                if any("``" in line for line in lines[i:j]):
                    lines[i:j] = ["> " + line.strip() for line in lines[i:j]]
                i = j
            else:
                i += 1
        return "\n".join(lines)

    @staticmethod
    def _separate_lists(text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        for line in lines:
            if (out and out[-1].rstrip().endswith(":") and re.match(r"[-*] ", line)
                    and not re.match(r"\s*[-*] ", out[-1])):
                out.append("")
            out.append(line)
        return "\n".join(out)

    def _convert(self, text: str, obj: griffe.Object) -> str:
        text = self._separate_lists(self._quote_displays(text))
        def role(match: re.Match) -> str:
            tilde, target = match.group(1), match.group(2).strip()
            shown = target.rsplit(".", 1)[-1] if tilde else target.lstrip(".")
            found = self._resolve(target, obj)
            if found is not None and _rendered(found):
                return f"[`{shown}`][{found.path}]"
            return f"`{shown}`"

        out, last = [], 0
        for m in _PROTECTED.finditer(text):
            out.append(text[last:m.start()].replace("<", "&lt;"))
            piece = m.group(0)
            out.append(_ROLE.sub(role, piece) if piece.startswith(":") else piece)
            last = m.end()
        out.append(text[last:].replace("<", "&lt;"))
        return "".join(out)
