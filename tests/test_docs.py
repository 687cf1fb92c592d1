"""The documentation is tested like code: its examples run, its figures regenerate, it builds.

- every ```python block of docs/**/*.md and README.md runs (collected with pytest-markdown-docs'
  parser, each in a fresh namespace, in an empty working folder); a top-level
  ``print(...)  # text`` must print ``text``;
- every ```pycon block runs as a doctest, so the output it shows is the real output;
- ``python scripts/make_figures.py`` regenerates every figure the pages show, none blank;
- ``mkdocs build --strict`` succeeds without a warning and writes the key pages;
- every public function and class of the documented modules has a docstring with a summary line.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "scripts" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_figures", module)
    spec.loader.exec_module(module)
    return module


mf = _load_make_figures()

BLOCKS = [b for path in mf.markdown_files() for b in mf.python_blocks(path) + mf.pycon_blocks(path)]


# ====================================================================== executed examples
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_code_block_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # figures and files a block writes land here, not in the repo
    mf.run_block(block)


def test_every_python_looking_block_is_run():
    # A fence the runner would skip (```py3, ```python in an indented admonition, ...) would be
    # an example that can rot silently; there must be none.
    problems = []
    for path in mf.markdown_files():
        run = {b.line for b in mf.python_blocks(path)} | {b.line for b in mf.pycon_blocks(path)}
        for info, line, _ in mf.fences(path):
            lang = re.sub(r"^\{?\s*\.?", "", info).split()[0].rstrip("}") if info else ""
            if lang in ("python", "pycon") and line not in run:
                problems.append(f"{path.relative_to(ROOT)}:{line} (```{info}) is not run")
            if lang in mf.SUSPICIOUS_LANGS:
                problems.append(f"{path.relative_to(ROOT)}:{line} uses ```{info}; write ```python or ```pycon")
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^[ \t]+```+\s*\{?\.?(python|pycon)\b", text, flags=re.M):
            problems.append(f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: an indented "
                            f"{m.group(1)} fence is not collected; move it out of the indented block")
    assert not problems, "\n".join(problems)
    assert len(BLOCKS) >= 30, f"only {len(BLOCKS)} code blocks were collected"


def test_print_comments_are_checked(tmp_path):
    good = mf.Block(tmp_path / "x.md", "python", 1, "print(1 + 1)   # 2\nx = 3  # not a print\n")
    mf.run_python(good)
    bad = mf.Block(ROOT / "x.md", "python", 1, "print(1 + 1)   # 3\n")
    with pytest.raises(mf.OutputMismatch, match="printed '2'"):
        mf.run_python(bad)


def test_pycon_output_is_checked():
    bad = mf.Block(ROOT / "x.md", "pycon", 1, ">>> 1 + 1\n3\n")
    with pytest.raises(AssertionError, match="1 of 1 examples failed"):
        mf.run_pycon(bad)


# ====================================================================== figures
def test_make_figures_regenerates_every_figure(tmp_path):
    shown = sorted({name for page in DOCS.rglob("*.md") for name in mf.figure_names(page)})
    assert len(shown) >= 8, shown
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_figures.py"), "--out", str(tmp_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == shown, f"figures shown by the pages {shown} but made {made}"
    for name in made:
        assert mf.blank_reason(tmp_path / name) is None, f"{name} {mf.blank_reason(tmp_path / name)}"
        assert (DOCS / "figures" / name).is_file(), f"docs/figures/{name} is not committed; run scripts/make_figures.py"


def test_blank_figures_are_caught(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.savefig(tmp_path / "blank.png")
    assert mf.blank_reason(tmp_path / "blank.png") is not None
    assert mf.blank_reason(tmp_path / "missing.png") == "was not written"
    fig.subplots().plot([0, 1], [0, 1], linewidth=8)
    fig.savefig(tmp_path / "line.png")
    assert mf.blank_reason(tmp_path / "line.png") is None


# ====================================================================== the site
KEY_PAGES = [
    "index.html",
    "getting-started/index.html",
    "lecture/optimization/index.html",
    "lecture/derivatives/index.html",
    "lecture/backprop/index.html",
    "lecture/linear-classifiers/index.html",
    "lecture/perceptron/index.html",
    "lecture/logistic-svm/index.html",
    "lecture/neural-networks/index.html",
    "lecture/training/index.html",
    "reference/engine/index.html",
    "reference/cli/index.html",
    "benchmarks/index.html",
    "architecture/index.html",
    "estimators/index.html",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    return out, result


def test_mkdocs_build_strict_is_clean(site):
    out, result = site
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    warnings = [line for line in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert not warnings, "\n".join(warnings)
    missing = [page for page in KEY_PAGES if not (out / page).is_file()]
    assert not missing, missing


def test_api_reference_is_rendered(site):
    out, _ = site
    engine = (out / "reference/engine/index.html").read_text(encoding="utf-8")
    assert 'id="chainrule.Tensor"' in engine and 'id="chainrule.gradcheck"' not in engine
    for page, anchor in [("gradcheck", "chainrule.gradcheck.gradcheck"), ("nn", "chainrule.nn.MLP"),
                         ("optim", "chainrule.optim.SGD"), ("models", "chainrule.models.Perceptron"),
                         ("train", "chainrule.train.fit"), ("viz", "chainrule.viz.draw"),
                         ("estimators", "chainrule.estimators.CNNClassifier"),
                         ("train", "chainrule.train.AugmentEachEpoch")]:
        html = (out / f"reference/{page}/index.html").read_text(encoding="utf-8")
        assert f'id="{anchor}"' in html, f"{anchor} is missing from reference/{page}"


def test_cli_reference_is_the_commands_own_help(site):
    out, _ = site
    html = (out / "reference/cli/index.html").read_text(encoding="utf-8")
    assert "cli-help" not in html  # the marker was replaced
    hooks = _load_hooks()
    sections = hooks.help_sections()
    assert [c for c, _ in sections][:1] == ["chainrule"] and len(sections) >= 2
    for command, _ in sections[1:]:
        assert f"$ {command} --help" in html, f"{command} is missing from the CLI reference"
    # The page shows exactly what the installed command prints.
    real = subprocess.run([sys.executable, "-m", "chainrule.cli", sections[1][0].split()[1], "--help"],
                          capture_output=True, text=True, timeout=120)
    assert real.returncode == 0, real.stderr
    assert real.stdout.rstrip() == sections[1][1]


def test_bare_doctests_in_docstrings_are_shown_as_code():
    spec = importlib.util.spec_from_file_location("chainrule_griffe_doctest", DOCS / "griffe_doctest.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    described = ext.fence_doctests("Summary.\n\n>>> f([1])   # doctest: +SKIP\n['a']\n\nMore text.")
    assert described == "Summary.\n\n```pycon\n>>> f([1])\n['a']\n```\n\nMore text."
    in_section = ext.fence_doctests("Summary.\n\nParameters\n----------\nx : int\n\n>>> f(1)\n2")
    assert in_section.endswith("x : int\n\nExamples\n--------\n>>> f(1)\n2")
    examples = "Summary.\n\nExamples\n--------\n>>> f(1)\n2"
    assert ext.fence_doctests(examples) == examples  # griffe parses a real Examples section itself
    indented = ext.fence_doctests("Example:\n    >>> draw(f)\n    Circuit()")
    assert indented == "Example:\n\n```pycon\n>>> draw(f)\nCircuit()\n```"


def _load_hooks():
    spec = importlib.util.spec_from_file_location("chainrule_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ====================================================================== the lecture map
def test_lecture_map_names_tests_that_exist():
    # The map is only worth something if every test it names is real: "file.py::test" or, after
    # one, "::test" for another test in the same file.
    text = (DOCS / "architecture.md").read_text(encoding="utf-8").split("## The lecture, page by page")[1]
    named, missing = 0, []
    for row in (line for line in text.splitlines() if line.startswith("| ") and "tests/" in line):
        current = None
        for path, name in re.findall(r"`(tests/[\w/]+\.py)?::(test_\w+)`", row):
            current = path or current
            named += 1
            source = (ROOT / current).read_text(encoding="utf-8") if (ROOT / current).is_file() else ""
            if not re.search(rf"^\s*def {name}\(", source, flags=re.M):
                missing.append(f"{current}::{name}")
    assert named >= 40, named
    assert not missing, f"the lecture map names tests that do not exist: {missing}"
    pages = set(re.findall(r"\]\((lecture/[\w-]+\.md)", text))
    assert pages == {f"lecture/{p.name}" for p in (DOCS / "lecture").glob("*.md") if p.name != "index.md"}


# ====================================================================== docstrings
DOCUMENTED_MODULES = [
    "chainrule", "chainrule.validation", "chainrule.engine", "chainrule.gradcheck", "chainrule.nn", "chainrule.nn.functional",
    "chainrule.optim", "chainrule.models", "chainrule.models.losses", "chainrule.data", "chainrule.train",
    "chainrule.io", "chainrule.viz", "chainrule.expr", "chainrule.estimators", "chainrule.sweep",
    "chainrule.playground",
]


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__]
    return names


def _summary_problem(obj) -> str | None:
    doc = obj.__doc__  # its own docstring: an inherited one says nothing about this object
    if not doc or not doc.strip():
        return "no docstring"
    summary = inspect.cleandoc(doc).split("\n\n")[0].strip()
    if not summary:
        return "no summary line"
    if not summary.endswith((".", ":", ")")) and "\n" not in summary:
        return f"summary line does not end a sentence: {summary!r}"
    return None


def missing_docstrings() -> list[str]:
    """``module.name: problem`` for each public function or class without a proper docstring."""
    problems, seen = [], set()
    for module_name in DOCUMENTED_MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            obj = getattr(module, name, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            if not getattr(obj, "__module__", "").startswith("chainrule"):
                continue
            seen.add(id(obj))
            problem = _summary_problem(obj)
            if problem:
                problems.append(f"{obj.__module__}.{obj.__qualname__}: {problem}")
    return sorted(problems)


def test_every_public_function_and_class_has_a_summary_line():
    problems = missing_docstrings()
    assert not problems, f"{len(problems)} public objects lack a docstring summary:\n" + "\n".join(problems)
