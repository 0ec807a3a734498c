"""Find import cycles between the modules of bot/ and actions/, and print each one.

    .venv/bin/python -m tests.import_cycles [--root DIR] [PACKAGE ...]   (default: bot actions)

Every .py file under the packages is parsed with ``ast`` (nothing is imported or run), each
``import x`` / ``from x import y`` / relative import is resolved to a module of these
packages, and the strongly connected components of the resulting graph (Tarjan) are the
cycles. Each is printed as ``a -> b -> a`` followed by the file and line of every import in
it; the exit status is 1 when there is any cycle, 0 otherwise. ``make lint`` runs it and
tests/test_import_cycles.py fails on the same findings.

What counts as an import of what:

- ``import a.b.c`` and ``from a.b import c`` (``c`` a submodule) depend on ``a.b.c``;
  ``from a.b import name`` (a name defined in ``a/b/__init__.py``) depends on ``a.b``.
  The parent packages Python initialises on the way are not edges: a package's
  ``__init__`` importing its own submodules, which then import siblings, is how packages
  work and never fails at run time.
- Imports at module level (including inside ``if``/``try`` and class bodies) run when the
  module is imported: these must form a DAG. A cycle among them makes the result depend on
  which module is imported first, and a half-initialised module raises ImportError.
- Imports inside a function, and imports under ``if TYPE_CHECKING:``, are *deferred*: they
  do not run at import time, so they cannot fail that way, and they are the usual way to
  hide a cycle. They count too: a cycle that closes only through a deferred import is
  reported in its own section and fails the check as well, because the two modules still
  depend on each other and a newcomer cannot tell which one is the lower layer. Deferred
  imports that form no cycle (a CLI loading a subcommand's heavy dependencies only when it
  runs, an annotation-only import) are fine and are not reported.

Imports of anything outside the given packages (the standard library, rasa_sdk, sqlalchemy)
are ignored, and so are dynamic imports (``importlib.import_module``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Where an import statement stands, which says when it runs.
MODULE_LEVEL = "module-level"  # when the module is imported
IN_FUNCTION = "in a function"  # when the function is called
TYPE_ONLY = "under TYPE_CHECKING"  # never (only type checkers read it)
# A cycle of module-level imports only, or one that closes through another kind.
DEFERRED = "deferred"
SKIPPED_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class Import:
    """One import statement of one module, resolved to a module of the packages checked."""

    source: str
    target: str
    path: Path
    line: int
    kind: str  # MODULE_LEVEL, IN_FUNCTION or TYPE_ONLY


@dataclass(frozen=True)
class Cycle:
    """A closed chain of imports: ``imports[i].target == imports[i + 1].source``."""

    imports: tuple[Import, ...]

    @property
    def kind(self) -> str:
        """``module-level`` when every import in it runs at import time, else ``deferred``."""
        if all(imp.kind == MODULE_LEVEL for imp in self.imports):
            return MODULE_LEVEL
        return DEFERRED

    def chain(self) -> str:
        """The modules in order, the first repeated at the end: ``a -> b -> a``."""
        names = [imp.source for imp in self.imports] + [self.imports[0].source]
        return " -> ".join(names)

    def describe(self, root: Path) -> str:
        """The chain, then one line per import with its file, line and kind."""
        lines = [self.chain()]
        for imp in self.imports:
            where = f"{_relative(imp.path, root)}:{imp.line}"
            note = "" if imp.kind == MODULE_LEVEL else f"  ({imp.kind})"
            lines.append(f"    {where}  imports {imp.target}{note}")
        return "\n".join(lines)


def discover_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name (``bot.hub.app``)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if SKIPPED_DIRS.intersection(parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def collect_imports(modules: dict[str, Path]) -> list[Import]:
    """Every import between the modules, in file and line order."""
    imports: list[Import] = []
    for name, path in sorted(modules.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, kind in _import_nodes(tree):
            for target in _targets(node, name, is_package, modules):
                if target != name:
                    imports.append(Import(name, target, path, node.lineno, kind))
    return imports


def find_cycles(imports: Sequence[Import]) -> list[Cycle]:
    """The cycles among ``imports``: first those of module-level imports alone, then those
    that close only through a deferred import.

    A strongly connected component can hold very many elementary cycles, so rather than all
    of them this returns, for every import inside a component, the shortest cycle through
    it: every import that takes part in a cycle is shown at least once, which is what it
    takes to break them all.
    """
    module_level = [imp for imp in imports if imp.kind == MODULE_LEVEL]
    cycles = _cycles_covering(module_level)
    seen = {_key(c) for c in cycles}
    for cycle in _cycles_covering(imports):
        if cycle.kind == DEFERRED and _key(cycle) not in seen:
            seen.add(_key(cycle))
            cycles.append(cycle)
    return cycles


def check(root: Path, packages: Sequence[str]) -> list[Cycle]:
    """The import cycles of ``packages`` under ``root``."""
    return find_cycles(collect_imports(discover_modules(root, packages)))


def report(cycles: Sequence[Cycle], root: Path) -> str:
    """The cycles as text, module-level ones first, each with the imports that make it."""
    if not cycles:
        return "No import cycles."
    out: list[str] = []
    for kind, title in (
        (MODULE_LEVEL, "Import cycles among module-level imports"),
        (DEFERRED, "Import cycles that close through a function-level or TYPE_CHECKING import"),
    ):
        found = [c for c in cycles if c.kind == kind]
        if found:
            out.append(f"{title} ({len(found)}):")
            out.extend(f"  {c.describe(root)}" for c in found)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the cycles; exit 1 if there is any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=["bot", "actions"])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    cycles = check(args.root, args.packages)
    print(report(cycles, args.root))
    if cycles:
        print(
            "Break each cycle by moving what both modules need into a module of its own "
            "that imports neither (see tests/import_cycles.py).",
            file=sys.stderr,
        )
    return 1 if cycles else 0


# ---------------------------------------------------------------------------- parsing


def _import_nodes(tree: ast.Module) -> Iterable[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement of a module, with whether it runs at import time."""

    def visit(node: ast.AST, kind: str) -> Iterable[tuple[ast.Import | ast.ImportFrom, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, kind
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(child, TYPE_ONLY if kind == TYPE_ONLY else IN_FUNCTION)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), TYPE_ONLY)
                for stmt in child.orelse:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), kind)
            else:
                yield from visit(child, kind)

    yield from visit(tree, MODULE_LEVEL)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: dict[str, Path]
) -> list[str]:
    """The modules of the packages checked that one import statement depends on."""
    if isinstance(node, ast.Import):
        found = (_known(alias.name, modules) for alias in node.names)
        return [name for name in found if name]
    base = _absolute(node, module, is_package)
    if base is None:
        return []
    targets: list[str] = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}" if base else alias.name
        if submodule in modules:  # from package import submodule
            targets.append(submodule)
        elif (owner := _known(base, modules)) and owner not in targets:
            targets.append(owner)  # from module import name
    return targets


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute module a ``from ... import`` names; None if it climbs above the top."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 > len(package) - 1:
        return None
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` if it is one of ours, else the nearest of its parents that is."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


# ---------------------------------------------------------------------------- graph


def _cycles_covering(imports: Sequence[Import]) -> list[Cycle]:
    """For each import inside a strongly connected component, the shortest cycle through
    it (deduplicated), components in the order Tarjan's algorithm finds them."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        # One import statement per pair is enough to show the dependency: keep the first,
        # preferring a module-level one (it is the one that must go).
        current = edges.setdefault(imp.source, {}).get(imp.target)
        if current is None or (current.kind != MODULE_LEVEL and imp.kind == MODULE_LEVEL):
            edges[imp.source][imp.target] = imp
    cycles: list[Cycle] = []
    seen: set[tuple[Import, ...]] = set()
    for component in _strongly_connected(edges):
        for source in sorted(component):
            for target, imp in sorted(edges.get(source, {}).items()):
                if target not in component:
                    continue
                path = _shortest_path(edges, target, source, component)
                cycle = Cycle((imp, *path))
                if _key(cycle) not in seen:
                    seen.add(_key(cycle))
                    cycles.append(cycle)
    return cycles


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's strongly connected components with more than one module (an import of
    itself is never recorded), iteratively so a deep graph cannot overflow the stack."""
    nodes = sorted(set(edges) | {t for targets in edges.values() for t in targets})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, {})))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    return components


def _shortest_path(
    edges: dict[str, dict[str, Import]], start: str, goal: str, within: set[str]
) -> list[Import]:
    """The imports of a shortest chain from ``start`` to ``goal`` inside one component
    (breadth first; empty when ``start`` is ``goal``)."""
    came_by: dict[str, Import | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for target, imp in sorted(edges.get(node, {}).items()):
            if target in within and target not in came_by:
                came_by[target] = imp
                queue.append(target)
    path: list[Import] = []
    node = goal
    while (imp := came_by[node]) is not None:
        path.append(imp)
        node = imp.source
    return path[::-1]


def _key(cycle: Cycle) -> tuple[Import, ...]:
    """The same cycle whatever module it is read from: rotated to start at the smallest."""
    imports = cycle.imports
    first = min(range(len(imports)), key=lambda i: imports[i].source)
    return imports[first:] + imports[:first]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
