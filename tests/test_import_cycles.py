"""bot/ and actions/ have no import cycles, and the checker (tests/import_cycles.py) finds the
cycles it should on small packages written for the test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.import_cycles import (
    DEFERRED,
    IN_FUNCTION,
    MODULE_LEVEL,
    TYPE_ONLY,
    check,
    collect_imports,
    discover_modules,
    main,
    report,
)


def write(root: Path, files: dict[str, str]) -> Path:
    """A package tree under ``root``: ``{"pkg/a.py": "import pkg.b"}``."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


def edges(root: Path, package: str = "pkg") -> set[tuple[str, str, str]]:
    imports = collect_imports(discover_modules(root, [package]))
    return {(imp.source, imp.target, imp.kind) for imp in imports}


def test_a_module_level_cycle_is_found_with_its_files_and_lines(tmp_path, capsys):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import os\nfrom pkg.b import thing\n",
            "pkg/b.py": "import pkg.c\n",
            "pkg/c.py": "from pkg import a\n",
        },
    )
    cycles = check(tmp_path, ["pkg"])
    assert [c.chain() for c in cycles] == ["pkg.a -> pkg.b -> pkg.c -> pkg.a"]
    assert cycles[0].kind == MODULE_LEVEL
    text = report(cycles, tmp_path)
    assert "pkg/a.py:2  imports pkg.b" in text
    assert "pkg/b.py:1  imports pkg.c" in text
    assert "pkg/c.py:1  imports pkg.a" in text
    assert main(["--root", str(tmp_path), "pkg"]) == 1
    assert "pkg.a -> pkg.b -> pkg.c -> pkg.a" in capsys.readouterr().out


def test_a_dag_passes(tmp_path, capsys):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import run\n",  # a package importing its modules
            "pkg/a.py": "from pkg import b, c\nimport pkg.c\n",
            "pkg/b.py": "from pkg.c import helper\n\ndef later():\n    from pkg import c\n",
            "pkg/c.py": "import json\nhelper = json.dumps\n",
        },
    )
    assert check(tmp_path, ["pkg"]) == []
    assert main(["--root", str(tmp_path), "pkg"]) == 0
    assert capsys.readouterr().out.strip() == "No import cycles."


def test_relative_imports_resolve_to_modules_and_packages(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/top.py": "",
            "pkg/sub/__init__.py": "from . import one\nfrom .two import name\n",
            "pkg/sub/one.py": "from .. import top\nfrom ..sub import two\nfrom . import NAME\n",
            "pkg/sub/two.py": "from ..top import thing\nfrom .deeper.leaf import x\n",
            "pkg/sub/deeper/__init__.py": "",
            "pkg/sub/deeper/leaf.py": "from ... import top\nfrom .... import outside\n",
        },
    )
    assert edges(tmp_path) == {
        ("pkg.sub", "pkg.sub.one", MODULE_LEVEL),
        ("pkg.sub", "pkg.sub.two", MODULE_LEVEL),
        ("pkg.sub.one", "pkg.top", MODULE_LEVEL),
        ("pkg.sub.one", "pkg.sub.two", MODULE_LEVEL),
        ("pkg.sub.one", "pkg.sub", MODULE_LEVEL),  # a name from the package's __init__
        ("pkg.sub.two", "pkg.top", MODULE_LEVEL),
        ("pkg.sub.two", "pkg.sub.deeper.leaf", MODULE_LEVEL),
        ("pkg.sub.deeper.leaf", "pkg.top", MODULE_LEVEL),
        # `from .... import outside` climbs above pkg: not one of ours, ignored.
    }
    # pkg.sub imports one, and one imports a name from pkg.sub: a cycle, found.
    assert [c.chain() for c in check(tmp_path, ["pkg"])] == ["pkg.sub -> pkg.sub.one -> pkg.sub"]


def test_a_cycle_closed_by_a_function_or_type_checking_import_is_reported_apart(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/desk.py": "from pkg import handlers, labels\n",
            "pkg/handlers.py": textwrap.dedent(
                """\
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from pkg.desk import Desk
                """
            ),
            "pkg/labels.py": "def label():\n    from pkg.desk import LABELS\n    return LABELS\n",
        },
    )
    assert ("pkg.handlers", "pkg.desk", TYPE_ONLY) in edges(tmp_path)
    assert ("pkg.labels", "pkg.desk", IN_FUNCTION) in edges(tmp_path)
    cycles = check(tmp_path, ["pkg"])
    assert sorted(c.chain() for c in cycles) == [
        "pkg.desk -> pkg.handlers -> pkg.desk",
        "pkg.desk -> pkg.labels -> pkg.desk",
    ]
    assert {c.kind for c in cycles} == {DEFERRED}
    text = report(cycles, tmp_path)
    assert "close through a function-level or TYPE_CHECKING import (2)" in text
    assert "pkg/handlers.py:4  imports pkg.desk  (under TYPE_CHECKING)" in text
    assert "pkg/labels.py:2  imports pkg.desk  (in a function)" in text
    assert "among module-level imports" not in text


def test_every_import_in_a_tangle_is_shown_in_some_cycle(tmp_path):
    # a <-> b and b <-> c: one component, two cycles, each import shown once.
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "import pkg.a\nimport pkg.c\n",
            "pkg/c.py": "import pkg.b\n",
        },
    )
    chains = sorted(c.chain() for c in check(tmp_path, ["pkg"]))
    assert chains == ["pkg.a -> pkg.b -> pkg.a", "pkg.b -> pkg.c -> pkg.b"]


def test_bot_and_actions_have_no_import_cycles():
    root = Path(__file__).resolve().parent.parent
    cycles = check(root, ["bot", "actions"])
    if cycles:
        pytest.fail(report(cycles, root), pytrace=False)
