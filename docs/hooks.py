"""MkDocs hooks for the chainrule site: the CLI reference is written from the command's own --help.

``docs/reference/cli.md`` holds the prose and one marker line, ``<!-- cli-help -->``. At build
time the marker is replaced by the help text of ``chainrule`` and of every subcommand, taken
from ``chainrule.cli.build_parser()`` — the parser that ``chainrule ... --help`` prints — so the
page cannot drift from the command. A new subcommand appears on the page without any edit.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

MARKER = "<!-- cli-help -->"
CLI_PAGE = "reference/cli.md"

_SRC = Path(__file__).resolve().parent.parent / "src"


def _import_build_parser():
    try:
        from chainrule.cli import build_parser
    except ImportError:
        # Building from a checkout without `pip install -e .`: use the source tree.
        sys.path.insert(0, str(_SRC))
        from chainrule.cli import build_parser
    return build_parser


def _subcommands(parser: argparse.ArgumentParser):
    """(name, parser) for each subcommand, in the order the command lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def help_sections() -> list[tuple[str, str]]:
    """``[(command line, help text), ...]``: ``chainrule`` first, then each subcommand, nested ones too."""
    parser = _import_build_parser()()
    sections = []

    def walk(prefix, p):
        sections.append((prefix, p.format_help().rstrip()))
        for name, child in _subcommands(p):
            walk(f"{prefix} {name}", child)

    walk("chainrule", parser)
    return sections


def render_cli_reference() -> str:
    """The Markdown that replaces the marker: one section per command with its --help verbatim."""
    parts = []
    for command, text in help_sections():
        if command == "chainrule":
            parts.append(f"## `{command} --help`\n\n```text\n{text}\n```\n")
        else:
            anchor = command.replace(" ", "-")
            parts.append(f"## `{command}` {{#{anchor}}}\n\n```text\n$ {command} --help\n{text}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != CLI_PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{CLI_PAGE} lost its {MARKER} marker, so the CLI reference cannot be written")
    return markdown.replace(MARKER, render_cli_reference())
