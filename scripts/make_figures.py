"""Regenerate the figures of the documentation by running the documentation's own code.

    python scripts/make_figures.py              # rewrites docs/figures/*.png
    python scripts/make_figures.py --out DIR    # writes them to DIR instead (the tests do this)
    python scripts/make_figures.py --page docs/lecture/backprop.md   # one page only

There is no second copy of the plotting code here: for every page that shows a figure
(``![...](../figures/NAME.png)``), the page's ```` ```python ```` blocks are run in order, each
in a fresh namespace, in an empty working folder, exactly as a reader would run them. They draw
with chainrule's own plotting (``chainrule.viz.draw``, ``plot_loss_curves``,
``plot_decision_regions``, ``plot_history``, ...) and write ``NAME.png`` into that folder; this
script checks that every figure the page shows was written and is not blank, and copies it to
``docs/figures/``. So a figure on a page is, by construction, the output of the code on that page.

The same functions run every code block of the docs in the test suite (``tests/test_docs.py``):
```` ```python ```` blocks are collected with pytest-markdown-docs' own parser and executed; a
top-level ``print(...)  # text`` must print ``text``; ```` ```pycon ```` blocks run as doctests,
so their shown output is compared with the real output.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import doctest
import io
import os
import re
import shutil
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"

# An image on a page that this script must produce: ![alt](../figures/name.png) or (figures/name.svg).
FIGURE_LINK = re.compile(r"!\[[^\]]*\]\((?:\.\./)*figures/([\w.-]+\.(?:png|svg))\)")
PYCON_FENCE = ("pycon",)
# Fence languages that look like Python but would not be run: a typo must not hide an example.
SUSPICIOUS_LANGS = {"py3", "python3", "Python", "py", "ipython", "pyconsole", "doctest"}


def markdown_files() -> list[Path]:
    """Every Markdown file whose examples are executed: docs/**/*.md and README.md."""
    return sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]


@dataclass
class Block:
    """One code block of a Markdown file: its language, first code line (1-based) and source.

    ``source`` keeps the block's position: it is preceded by blank lines, so line numbers in a
    traceback are line numbers of the Markdown file.
    """

    path: Path
    lang: str
    line: int
    source: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def _markdown_it():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of ``path``, as pytest-markdown-docs collects them (``notest`` skipped)."""
    from pytest_markdown_docs.plugin import FenceSyntax, extract_fence_tests

    text = path.read_text(encoding="utf-8")
    found = extract_fence_tests(_markdown_it(), text, start_line_offset=0, source_path=path,
                                fence_syntax=FenceSyntax.superfences)
    return [Block(path, "python", t.start_line + 1, t.source) for t in found]


def fences(path: Path) -> list[tuple[str, int, str]]:
    """``(info, first code line, content)`` of every fenced block in ``path``."""
    tokens = _markdown_it().parse(path.read_text(encoding="utf-8"))
    return [(t.info.strip(), t.map[0] + 2, t.content) for t in tokens if t.type == "fence" and t.map]


def pycon_blocks(path: Path) -> list[Block]:
    """The ```pycon blocks of ``path`` (``>>>`` sessions, run as doctests)."""
    return [Block(path, "pycon", line, content) for info, line, content in fences(path)
            if info.split()[:1] == ["pycon"]]


# ====================================================================== running blocks
class OutputMismatch(AssertionError):
    """A ``print(...)  # expected`` line printed something else."""


def _print_expectations(source: str) -> dict[int, str]:
    """{line: expected text} for each line that ends a top-level ``print(...)`` with a comment."""
    tree = ast.parse(source)
    prints = {
        stmt.end_lineno for stmt in tree.body
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "print"
    }
    expected = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.start[0] in prints:
            expected[tok.start[0]] = tok.string.lstrip("#").strip()
    return expected


def run_python(block: Block, namespace: dict | None = None) -> dict:
    """Run a ```python block in a fresh namespace (or ``namespace``) and return the namespace.

    The block runs statement by statement. A top-level ``print(...)  # text`` must print
    ``text`` (whitespace-normalized), so the output a page shows in such a comment is checked.
    """
    namespace = {"__name__": "__main__"} if namespace is None else namespace
    tree = ast.parse(block.source, filename=str(block.path))
    expected = _print_expectations(block.source)
    for stmt in tree.body:
        code = compile(ast.Module([stmt], type_ignores=[]), str(block.path), "exec")
        want = expected.get(stmt.end_lineno)
        if want is None:
            exec(code, namespace)
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        got = out.getvalue()
        sys.stdout.write(got)
        if " ".join(got.split()) != " ".join(want.split()):
            raise OutputMismatch(
                f"{block.path.relative_to(ROOT)}:{stmt.end_lineno}: the comment says the print shows "
                f"{want!r}, but it printed {got.strip()!r}"
            )
    return namespace


def run_pycon(block: Block) -> None:
    """Run a ```pycon block as a doctest (ELLIPSIS and NORMALIZE_WHITESPACE); fail on any mismatch."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.source, {"__name__": "__main__"}, block.id, str(block.path), block.line - 1)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test, out=out.write)
    if result.failed:
        raise AssertionError(f"{block.id}: {result.failed} of {result.attempted} examples failed\n{out.getvalue()}")


def run_block(block: Block) -> None:
    """Run one block of either kind."""
    if block.lang == "pycon":
        run_pycon(block)
    else:
        run_python(block)


@contextlib.contextmanager
def working_dir(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


# ====================================================================== figures
def figure_names(path: Path) -> list[str]:
    """The figure files ``path`` shows, in order of appearance."""
    names = FIGURE_LINK.findall(path.read_text(encoding="utf-8"))
    return list(dict.fromkeys(names))


def blank_reason(path: Path) -> str | None:
    """Why ``path`` is not a usable figure (missing, empty, a single colour), or None when it is."""
    if not path.is_file() or path.stat().st_size == 0:
        return "was not written"
    if path.suffix == ".svg":
        text = path.read_text(encoding="utf-8", errors="replace")
        return None if "<svg" in text and re.search(r"<(path|text|use|line|rect)\b", text) else "has no drawing"
    import numpy as np
    from matplotlib import image

    pixels = image.imread(path)
    if pixels.ndim == 3:
        pixels = pixels[..., :3]
    flat = pixels.reshape(-1, pixels.shape[-1]) if pixels.ndim == 3 else pixels.reshape(-1, 1)
    background = np.median(flat, axis=0)
    ink = np.mean(np.abs(flat - background).max(axis=1) > 0.1)
    if ink < 0.005:
        return f"is blank ({ink:.2%} of its pixels differ from the background)"
    return None


def make_page_figures(page: Path, out_dir: Path) -> list[Path]:
    """Run ``page``'s code in an empty folder and copy the figures it shows into ``out_dir``."""
    names = figure_names(page)
    if not names:
        return []
    blocks = python_blocks(page)
    with tempfile.TemporaryDirectory(prefix="chainrule-figures-") as tmp, working_dir(Path(tmp)):
        for block in blocks:
            with contextlib.redirect_stdout(io.StringIO()):
                run_python(block)
        written = []
        for name in names:
            reason = blank_reason(Path(tmp) / name)
            if reason:
                raise RuntimeError(f"{page.relative_to(ROOT)} shows figures/{name}, but its code's {name} {reason}")
            target = out_dir / name
            shutil.copyfile(Path(tmp) / name, target)
            written.append(target)
    return written


def make_figures(out_dir: Path = FIGURES, pages=None) -> list[Path]:
    """Regenerate every figure of the docs (or of ``pages``) into ``out_dir``; returns the files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for page in pages or sorted(DOCS.rglob("*.md")):
        written += make_page_figures(Path(page).resolve(), out_dir)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the docs' figures by running the docs' code.")
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the figures (default: docs/figures)")
    parser.add_argument("--page", type=Path, action="append", help="only this page (repeatable)")
    args = parser.parse_args(argv)
    for path in make_figures(args.out, args.page):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
