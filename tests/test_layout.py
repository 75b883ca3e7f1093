"""The layout holds: each package imports only the packages below it, no module imports itself
round a circle, `pipelines/` holds orchestration only, modules stay readable in size and the Dagster
assets stay thin wrappers. docs/architecture.md describes the same rules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("assets", "checks", "dashboards", "synth", "pipelines")
# What each package may import (besides itself). The data layer (`assets`) imports no other
# package; validation, publishing and synthetic data build on it; orchestration on all of them.
MAY_IMPORT = {
    "assets": set(),
    "checks": {"assets"},
    "dashboards": {"assets"},
    "synth": {"assets"},
    "pipelines": {"assets", "checks", "dashboards", "synth"},
}
ORCHESTRATION = {"__init__", "audit_cli", "cli", "dagster_assets", "definitions", "partitions", "resources", "run",
                 "schedules", "sensors", "settings", "terminal"}
LONGEST_MODULE = 520  # lines; ~500, with room for a docstring
LONGEST_ASSET_BODY = 25


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Project modules a module imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}


def layout_problems(graph: dict[str, set[str]]) -> list[str]:
    """Upward imports (against MAY_IMPORT) and import cycles, in words."""
    problems = []
    for module, imported in sorted(graph.items()):
        package = module.split(".")[0]
        for other in sorted(imported):
            if other.split(".")[0] not in MAY_IMPORT[package] | {package}:
                problems.append(f"{module} imports {other}: {package} may import only {sorted(MAY_IMPORT[package])}")
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import each other round a circle."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt):] + [nxt]
                if frozenset(cycle) not in done:
                    done.add(frozenset(cycle))
                    found.append(cycle)
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, path + [nxt])

    seen: set[str] = set()
    for start in sorted(graph):
        if start not in seen:
            seen.add(start)
            visit(start, [start])
    return found


def test_packages_import_only_downwards_and_no_module_imports_itself_round_a_circle():
    assert layout_problems(import_graph()) == []


def test_the_rule_would_fail_on_a_planted_cycle_and_an_upward_import():
    graph = import_graph()
    graph["assets.reading"] = graph["assets.reading"] | {"assets.ingest"}  # ingest imports reading already
    graph["assets.scoring"] = graph["assets.scoring"] | {"dashboards.publication"}
    problems = layout_problems(graph)
    assert any(p.startswith("import cycle") and "assets.reading" in p and "assets.ingest" in p for p in problems)
    assert "assets.scoring imports dashboards.publication: assets may import only []" in problems


def test_pipelines_holds_orchestration_only():
    assert {p.stem for p in (ROOT / "pipelines").glob("*.py")} <= ORCHESTRATION


def test_no_module_is_over_five_hundred_lines():
    long = {name: n for name, path in project_modules().items()
            if (n := len(path.read_text().splitlines())) > LONGEST_MODULE}
    assert long == {}


def test_dagster_assets_are_thin_wrappers():
    tree = ast.parse((ROOT / "pipelines" / "dagster_assets.py").read_text())
    assets = [node for node in tree.body if isinstance(node, ast.FunctionDef) and any(
        "asset" in ast.unparse(d) for d in node.decorator_list)]
    assert len(assets) >= 6
    for node in assets:
        body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body  # past the docstring
        lines = body[-1].end_lineno - body[0].lineno + 1
        assert lines <= LONGEST_ASSET_BODY, (node.name, lines)
