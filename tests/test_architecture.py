"""The layering of docs/architecture.md, enforced: every import in src/chainrule points down.

The test reads every import of every module with ``ast`` (function-local ones included) and
fails on one that points up or sideways against the layer order written in
docs/architecture.md, and on a private name (``_x``) imported from another module.
"""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "chainrule"



def layer_order() -> list:
    """The layers, lowest first, as docs/architecture.md writes them on its 'Layer order:' line."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    m = re.search(r"^Layer order: (.+)$", text, re.M)
    assert m, "docs/architecture.md has no 'Layer order:' line"
    return [name.strip(" `") for name in m.group(1).split("→")]


def modules() -> dict:
    """Every module of the package: dotted name → path."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path):
    """``(line, imported module, imported name or None)`` for every import in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield node.lineno, base, alias.name


def layer_of(module: str, order: list):
    """The layer a chainrule module belongs to (its first component below ``chainrule``)."""
    parts = module.split(".")
    if parts[0] != "chainrule":
        return None
    if len(parts) == 1:
        return None  # the package root re-exports; it is above everything
    top = parts[1]
    if top in ("_version", "_startup"):
        return -1  # a leaf every layer may read (the version; the start-up Ctrl-C hook)
    if top == "__main__":
        return None  # ``python -m chainrule``: the package's own entry, like the root
    assert top in order, f"{module}: the layer {top!r} is not in the layer order of docs/architecture.md"
    return order.index(top)


def resolve(target: str, name, known: dict) -> str:
    """The module an import refers to: ``from chainrule import nn`` is chainrule.nn."""
    if name and f"{target}.{name}" in known:
        return f"{target}.{name}"
    return target


def test_the_layer_order_names_every_top_level_module():
    order = layer_order()
    tops = {m.split(".")[1] for m in modules() if "." in m} - {"_version", "_startup", "__main__"}
    assert tops <= set(order), sorted(tops - set(order))
    assert order[0] == "validation" and order[-1] == "cli"


def violations():
    order, known, found = layer_order(), modules(), []
    for name, path in known.items():
        here = layer_of(name, order)
        for line, target, imported in imports(name, path):
            target_module = resolve(target, imported, known)
            there = layer_of(target_module, order)
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}"
            if here is not None and there is not None and target_module.split(".")[:2] != name.split(".")[:2]:
                if there >= here:
                    found.append(f"{where}: {name} imports {target_module} ({'up' if there > here else 'sideways'})")
            # Subcommand modules share only cli.common.
            if name.startswith("chainrule.cli.") and target_module.startswith("chainrule.cli.") and \
                    target_module != "chainrule.cli.common" and name != "chainrule.cli.__main__":
                found.append(f"{where}: {name} imports the subcommand module {target_module} (sideways)")
            if imported and imported.startswith("_") and not imported.startswith("__"):
                private_module = f"{target}.{imported}" in known
                inside = private_module and name.startswith(target + ".") or private_module and name == target
                if not inside:
                    found.append(f"{where}: {name} imports the private name {imported} from {target}")
            elif imported is None and any(p.startswith("_") and not p.startswith("__") for p in target.split(".")):
                owner = ".".join(p for p in target.split(".") if not p.startswith("_"))
                if not name.startswith(owner) and target != "chainrule._version":
                    found.append(f"{where}: {name} imports the private module {target}")
    return found


def private_attributes(name: str, path: Path, known: dict):
    """``(line, module, attribute)`` for every ``module._private`` use of an imported chainrule module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if isinstance(node, ast.Import):
                    target = alias.name if alias.asname else None
                else:
                    _, base, _ = next(i for i in imports_of(node, name, path))
                    target = f"{base}.{alias.name}"
                if target in known and target != name:
                    bound[alias.asname or alias.name] = target
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            yield node.lineno, bound[node.value.id], node.attr


def imports_of(node, name, path):
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")
        anchor = anchor[:len(anchor) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    yield node.lineno, base, None


def test_no_module_reaches_into_another_modules_private_names():
    known, found = modules(), []
    for name, path in known.items():
        for line, target, attr in private_attributes(name, path, known):
            found.append(f"{path.relative_to(ROOT)}:{line}: {name} uses {target}.{attr}")
    assert found == []


def test_every_import_points_down_the_layer_order():
    assert violations() == []


def test_the_check_catches_an_upward_and_a_private_import(tmp_path, monkeypatch):
    """The checker itself: a planted upward import and a private one are both reported."""
    fake = dict(modules())
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from chainrule.cli import main\n    from chainrule.train.loop import _check_xy\n")
    fake["chainrule.nn.bad"] = bad
    monkeypatch.setattr(__import__(__name__), "modules", lambda: fake)
    found = violations()
    assert any("chainrule.nn.bad imports chainrule.cli (up)" in f for f in found)
    assert any("imports the private name _check_xy" in f for f in found)


def test_importing_the_engine_does_not_load_training():
    import subprocess
    import sys

    code = "import sys, chainrule.engine; print(sorted(m for m in sys.modules if m.startswith('chainrule.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "chainrule.engine" in loaded
    for heavy in ("chainrule.train", "chainrule.runs", "chainrule.estimators", "chainrule.viz", "chainrule.cli"):
        assert f"'{heavy}'" not in loaded, heavy


@pytest.mark.parametrize("name", sorted(m for m in modules() if not any(p.startswith("_") for p in m.split(".")[1:])))
def test_docstring_examples_run(name):
    """Every public module's docstring examples run (doctest), not only those of models and optim."""
    import doctest
    import importlib

    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
