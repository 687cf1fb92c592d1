"""A griffe extension for the API reference: show docstring doctests as code, wherever they are.

NumPy-style docstrings put examples under an ``Examples`` header, and griffe renders those as
code. Many of chainrule's docstrings also show a short ``>>>`` session right after the summary,
after ``Example:``, or at the end of another section. Markdown would render those lines as
nested block quotes (``>>>``), and an output such as ``['mul', 'add']`` as a link reference. This
extension rewrites each such run of doctest lines, when griffe loads a docstring:

- in the description (before the first section), into a fenced ``pycon`` code block;
- inside another section (after ``Parameters``, ``Returns``, ...), into an ``Examples`` section
  of its own, which griffe then parses as examples.

Doctest directives (``# doctest: +SKIP``) are dropped from the displayed code. Sphinx roles
such as ``:class:`Optimizer``` or ``:func:`~chainrule.viz.draw``` (which Markdown would show
verbatim) become inline code. The source files are not changed: the doctests still run as they are. A docstring with the
``{parameters}`` / ``{attributes}`` placeholders of the estimators' shared documentation is read
from the imported class, where they are filled in.
"""
from __future__ import annotations

import re

import griffe

_SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")
_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")


def _role_to_code(match: re.Match) -> str:
    name = match.group(2)
    return f"`{name.rsplit('.', 1)[-1] if match.group(1) else name}`"


def _is_prompt(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(">>> ") or stripped == ">>>"


def fence_doctests(text: str) -> str:
    """``text`` with its bare ``>>>`` runs made into code blocks or Examples sections."""
    lines = text.splitlines()
    out: list[str] = []
    section = None  # None: the description; else the current NumPy section's title
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and i + 1 < len(lines) and line.strip() and _SECTION_RULE.match(lines[i + 1]):
            section = line.strip()
            out += [line, lines[i + 1]]
            i += 2
            continue
        if in_fence or section == "Examples" or not _is_prompt(line):
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        run = []
        while i < len(lines) and lines[i].strip():
            run.append(_DIRECTIVE.sub("", lines[i][indent:] if lines[i][:indent].isspace() else lines[i].lstrip()))
            i += 1
        if out and out[-1].strip():
            out.append("")
        if section is None:
            out += ["```pycon", *run, "```"]
        else:
            out += ["Examples", "--------", *run]
            section = "Examples"
    return "\n".join(out)


def _filled_docstring(path: str) -> str:
    """The docstring a class has at run time: the estimators' shared parameter documentation is
    written once and filled in by ``chainrule.estimators.base.documented`` when they are defined."""
    import importlib
    import inspect

    module, _, name = path.rpartition(".")
    return inspect.cleandoc(getattr(importlib.import_module(module), name).__doc__)


class DoctestFences(griffe.Extension):
    """Rewrite bare doctest runs in every docstring griffe loads (see the module docstring)."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is None:
            return
        value = obj.docstring.value
        if any(f"{{{name}}}" in value for name in ("parameters", "attributes", "sections")):
            value = _filled_docstring(obj.path)
        value = _ROLE.sub(_role_to_code, value)
        if ">>>" in value:
            value = fence_doctests(value)
        obj.docstring.value = value
