"""The import rules of the package layout, read from the source (every `import`, at the top of
a module or inside a function, relative ones too), so a rule broken later fails here.

* `tenancy` is the bottom room: it imports only `TENANCY_MAY_IMPORT` (besides the standard
  library and third-party packages). Refused requests reach the audit trail through the
  refusal's own hook (`tenancy.context.AuditedRefusal.audit_refusal`), never an import.
* No import cycle between packages (`pms_dashboard.<package>`, a top-level module counting
  as a package of its own): the layers are a graph that points one way. Nor between the
  modules inside a package.
* Nothing depends on `ui` but the app module that assembles the pages.
* Sessions are opened only by entry points (`ENTRY_POINTS`): services take one.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import pms_dashboard

ROOT = Path(pms_dashboard.__file__).parent
PACKAGE = ROOT.name

# What the bottom room may import: itself, the engines, the settings and the refusal base.
TENANCY_MAY_IMPORT = frozenset({"tenancy", "db", "settings", "errors"})
# The key room sits right above tenancy: the domains (goals, reviews) import it for the ORM
# hooks of their encrypted fields, so it may import none of them, only what is below it.
KEYS_MAY_IMPORT = frozenset(
    {"keys", "tenancy", "db", "settings", "errors", "audit", "crypto", "keyring"}
)
# The app module (pms_dashboard.pms_dashboard) mounts the pages; nothing else may reach ui.
MAY_IMPORT_UI = frozenset({"ui", "pms_dashboard"})
# The functions that open a unit of work (tenancy.session), and who may call them: the
# Reflex states, the HTTP routes, the command line and the seeding job.
SESSION_OPENERS = frozenset(
    {"tenant_session", "contextless_session", "catalog_session", "auditor_session", "owner_session"}
)
ENTRY_POINTS = (
    f"{PACKAGE}.ui.states.",
    f"{PACKAGE}.cli",
    f"{PACKAGE}.exports.cli",
    f"{PACKAGE}.seed",
    f"{PACKAGE}.jobs",
    f"{PACKAGE}.tenancy.session",  # where they are defined
)
ROUTE_MODULE = "routes"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imported_modules(
    module: str, source: str, known: Iterable[str], *, is_package: bool = False
) -> set[str]:
    """The project's modules that `source` (of `module`, a package's `__init__` when
    `is_package`) imports anywhere in its body: a name imported from a package is the
    submodule when there is one, else the package."""
    known = set(known)
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != module and target != PACKAGE:
                found.add(target)
    return found


def package_of(module: str) -> str:
    """`pms_dashboard.goals.service` -> `goals`; `pms_dashboard.settings` -> `settings`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    found = modules(root)
    return {
        m: imported_modules(m, p.read_text(), found, is_package=p.name == "__init__.py")
        for m, p in found.items()
    }


def package_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(package, package it imports) -> the module imports that make the edge."""
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for module, targets in graph.items():
        for target in sorted(targets):
            a, b = package_of(module), package_of(target)
            if a != b:
                edges.setdefault((a, b), []).append((module, target))
    return edges


def find_cycle(edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """One cycle of the directed graph (its nodes, the first repeated at the end), if any."""
    successors: dict[str, list[str]] = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(successors.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(successors):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def describe_cycle(cycle: list[str], edges: dict[tuple[str, str], list[tuple[str, str]]]) -> str:
    lines = [" -> ".join(cycle)]
    for a, b in itertools.pairwise(cycle):
        lines += [f"  {a} -> {b}:"] + [f"    {m} imports {t}" for m, t in edges[(a, b)]]
    return "\n".join(lines)


def session_openers(source: str) -> Iterator[tuple[int, str]]:
    """(line, name) of every call of a function that opens a unit of work."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in SESSION_OPENERS:
                yield node.lineno, name


def is_entry_point(module: str) -> bool:
    """A route module, or one of (or inside one of) `ENTRY_POINTS`."""
    if module.rsplit(".", 1)[-1] == ROUTE_MODULE:
        return True
    return any(
        module.startswith(e) if e.endswith(".") else module == e or module.startswith(e + ".")
        for e in ENTRY_POINTS
    )


# --------------------------------------------------------------------------- the rules


GRAPH = module_graph()
EDGES = package_edges(GRAPH)


def assert_imports_within(package: str, allowed: frozenset[str]) -> None:
    """`package`'s modules import no package outside `allowed` (the message lists them)."""
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(GRAPH.items())
        if package_of(module) == package
        for target in sorted(targets)
        if package_of(target) not in allowed
    ]
    assert not wrong, (
        f"{package} may import only " + ", ".join(sorted(allowed)) + (":\n" + "\n".join(wrong))
    )


def test_tenancy_imports_only_the_rooms_below_it() -> None:
    assert_imports_within("tenancy", TENANCY_MAY_IMPORT)


def test_keys_imports_only_the_rooms_below_it() -> None:
    assert_imports_within("keys", KEYS_MAY_IMPORT)


def test_no_import_cycle_between_packages() -> None:
    cycle = find_cycle(EDGES)
    assert cycle is None, "import cycle between packages:\n" + describe_cycle(cycle or [], EDGES)


def test_no_import_cycle_between_modules() -> None:
    """Inside a package too, modules import one way (an import in a function counts)."""
    module_edges = {(m, t): [(m, t)] for m, targets in GRAPH.items() for t in targets}
    cycle = find_cycle(module_edges)
    assert cycle is None, "import cycle between modules:\n" + describe_cycle(
        cycle or [], module_edges
    )


def test_nothing_depends_on_ui_but_the_app() -> None:
    wrong = [
        f"{m} imports {t}"
        for (a, b), pairs in sorted(EDGES.items())
        if b == "ui" and a not in MAY_IMPORT_UI
        for m, t in pairs
    ]
    assert not wrong, "\n".join(wrong)


def test_only_entry_points_open_sessions() -> None:
    """Services take a `session`; the states, routes, command line and jobs open them."""
    wrong = [
        f"{module}:{line} calls {name}"
        for module, path in sorted(modules().items())
        if not is_entry_point(module)
        for line, name in session_openers(path.read_text())
    ]
    assert not wrong, "services must take a session, not open one:\n" + "\n".join(wrong)


# ------------------------------------------------------------ the checks themselves fail


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    """A bad import anywhere in a module (top level, inside a function, relative) is seen,
    and a cycle is reported with the imports that make it."""
    pkg = tmp_path / PACKAGE
    for folder in ("tenancy", "audit"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "tenancy" / "session.py").write_text(
        f"from {PACKAGE}.errors import x\n"
        "def f():\n"
        "    from ..audit import service\n"
        "    return service\n"
    )
    (pkg / "audit" / "service.py").write_text(
        f"import {PACKAGE}.tenancy.session\n"
        "def g():\n"
        "    with tenant_session(ctx) as s:\n"
        "        pass\n"
    )
    graph = module_graph(pkg)
    assert graph[f"{PACKAGE}.tenancy.session"] == {f"{PACKAGE}.errors", f"{PACKAGE}.audit.service"}
    edges = package_edges(graph)
    assert find_cycle(edges) == ["audit", "tenancy", "audit"]
    assert "tenancy.session imports" in describe_cycle(["audit", "tenancy", "audit"], edges)
    source = (pkg / "audit" / "service.py").read_text()
    assert list(session_openers(source)) == [(3, "tenant_session")]
    assert not is_entry_point(f"{PACKAGE}.audit.service")
    assert is_entry_point(f"{PACKAGE}.sso.routes") and is_entry_point(f"{PACKAGE}.ui.states.goals")
    assert find_cycle([("a", "b"), ("b", "c")]) is None


@pytest.mark.parametrize("package", sorted((TENANCY_MAY_IMPORT | KEYS_MAY_IMPORT) - {"tenancy"}))
def test_what_tenancy_may_import_exists(package: str) -> None:
    assert any(package_of(m) == package for m in GRAPH), f"no package {package}"
