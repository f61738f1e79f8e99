"""The layers, checked by reading every import (function-level ones included).

- ``quizzes`` (the domain) imports no other package of the project, no aiogram, no ORM;
- ``storage`` imports only the domain;
- ``handlers`` never import ``storage``: they call the application layer
  (:mod:`bot.application`) and hand it the unit of work without reaching into it;
  the web views (:mod:`bot.web`) likewise, but for names used only in type hints;
- no import cycle runs through ``bot`` and ``handlers``: the only ``bot`` module that
  imports ``handlers`` is the wiring (:mod:`bot.factory`), and nothing the handlers
  import leads back to it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "quizzes", "storage")
WIRING = {"bot.factory"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> Iterator[tuple[int, str]]:
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from bot import config`` imports bot.config
                if f"{target}.{alias.name}" in MODULES:
                    yield node.lineno, f"{target}.{alias.name}"


def _project_imports(name: str) -> set[str]:
    found = set()
    for _, target in _imports(name):
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _top(m) == "quizzes"))
def test_the_domain_imports_nothing_of_the_framework_or_the_project(module: str) -> None:
    wrong = [
        f"{MODULES[module].name}:{line} imports {target}"
        for line, target in _imports(module)
        if _top(target) in {"aiogram", "sqlalchemy", "bot", "handlers", "storage"}
    ]
    assert wrong == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _top(m) == "storage"))
def test_storage_imports_only_the_domain(module: str) -> None:
    wrong = [
        f"{MODULES[module].name}:{line} imports {target}"
        for line, target in _imports(module)
        if _top(target) in {"aiogram", "bot", "handlers"}
    ]
    assert wrong == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _top(m) == "handlers"))
def test_handlers_do_not_import_storage(module: str) -> None:
    wrong = [
        f"{MODULES[module].name}:{line} imports {target}"
        for line, target in _imports(module)
        if _top(target) == "storage"
    ]
    assert wrong == []


def _runtime_imports(name: str) -> Iterator[tuple[int, str]]:
    """The module's imports but those under ``if TYPE_CHECKING:`` (type hints only)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    hints: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in {
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        }:
            hints |= {
                n.lineno for child in node.body for n in ast.walk(child) if hasattr(n, "lineno")
            }
    for line, target in _imports(name):
        if line not in hints:
            yield line, target


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("bot.web")))
def test_web_views_do_not_import_storage(module: str) -> None:
    wrong = [
        f"{MODULES[module].name}:{line} imports {target}"
        for line, target in _runtime_imports(module)
        if _top(target) == "storage"
    ]
    assert wrong == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _top(m) == "handlers"))
def test_handlers_hand_the_unit_of_work_to_use_cases_without_reaching_into_it(
    module: str,
) -> None:
    """``uow.participants...`` in a handler would be a business rule in the chat layer."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    wrong = [
        f"{MODULES[module].name}:{node.lineno} uses {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in {"uow", "repo"}
    ]
    assert wrong == []


def test_only_the_wiring_imports_the_handlers() -> None:
    importers = sorted(
        name
        for name in MODULES
        if _top(name) == "bot" and any(_top(t) == "handlers" for t in _project_imports(name))
    )
    assert set(importers) <= WIRING, importers


def test_no_import_cycle_runs_through_bot_and_handlers() -> None:
    """Tarjan's strongly connected components over the modules of both packages."""
    graph = {
        name: {t for t in _project_imports(name) if _top(t) in {"bot", "handlers"}}
        for name in MODULES
        if _top(name) in {"bot", "handlers"}
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            tops = {_top(m) for m in component}
            if len(component) > 1 and tops == {"bot", "handlers"}:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert cycles == []
