"""Every test the docs cite exists: a path ``tests/...py`` names a file, and a ``::name`` after
it (or after an earlier path in the same line, as the lecture table writes ``::other_test``)
names a test function defined in that file. Moving or renaming a test without its citation
fails here, not in a reader's hands."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITING = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", ROOT / ".ci" / "run",
          *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "tests").rglob("*.py"))]
CITATION = re.compile(r"(tests/[\w/]+\.py)|(?<![\w/.])::(\w+)")


def citations():
    """(citing file, line number, test file, test name or None) for every citation."""
    for path in CITING:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            current = None
            for match in CITATION.finditer(line):
                if match.group(1):
                    current = match.group(1)
                    yield path, number, current, None
                elif current is not None:
                    yield path, number, current, match.group(2)
            # a path followed directly by ::name
            for file, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", line):
                yield path, number, file, name


def test_every_cited_test_file_and_function_exists():
    missing = []
    for path, number, file, name in citations():
        target = ROOT / file
        where = f"{path.relative_to(ROOT)}:{number}"
        if not target.is_file():
            missing.append(f"{where}: {file} does not exist")
        elif name and not re.search(rf"^(async )?def {name}\(", target.read_text(encoding="utf-8"), re.M):
            missing.append(f"{where}: {file} has no {name}")
    assert not missing, "\n".join(missing)


def test_the_citation_reader_finds_the_lecture_tables_citations():
    # The architecture page's lecture table cites dozens of tests; a reader that found none
    # would make the test above pass vacuously.
    found = [(file, name) for path, _, file, name in citations() if path.name == "architecture.md" and name]
    assert len(found) > 40
    assert ("tests/cli/test_graph_command.py", "test_graph_draws_the_lecture_circuits") in found
