"""The package's floors: models import alone, without the pipeline, the trainer or each other."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("dynamiccity.dit", ("dynamiccity.vae", "dynamiccity.train", "dynamiccity.pipeline")),
        ("dynamiccity.vae", ("dynamiccity.dit", "dynamiccity.train", "dynamiccity.pipeline")),
        ("dynamiccity.diffusion.process", ("dynamiccity.vae", "dynamiccity.dit", "dynamiccity.train")),
        ("dynamiccity.metrics", ("dynamiccity.vae", "dynamiccity.dit", "dynamiccity.pipeline")),
        ("dynamiccity.cli.main", ("torch",)),  # the command line lists its choices without torch
    ],
)
def test_module_imports_without(module, absent):
    code = f"import sys, {module}; print(' '.join(m for m in {absent!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} pulls in {result.stdout.strip()}"


ROOMS = ("runs", "generation", "editing", "evaluation", "pipeline")
"""The rooms above the models, each importing only those before it."""


def imports_of(path) -> set[str]:
    """Every dynamiccity module a source file imports, at module level or inside a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dynamiccity"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("dynamiccity"))
    return found


def package_graph() -> dict[str, set[str]]:
    """{module: the package modules it imports}, over every module of src/dynamiccity."""
    from pathlib import Path

    root = Path(__file__).parents[1] / "src"
    graph = {}
    for path in (root / "dynamiccity").rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = imports_of(path)
    return {name: {m for m in deps if m in graph and m != name} for name, deps in graph.items()}


def test_no_module_imports_itself_back():
    """No import cycle between the package's modules, counting imports inside functions."""
    graph, done, path = package_graph(), set(), []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for dep in sorted(graph[module]):
            visit(dep)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_rooms_import_one_way():
    """runs <- generation <- editing <- evaluation <- pipeline: a room never imports a later one."""
    rank = {room: i for i, room in enumerate(ROOMS)}

    def room(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 and parts[1] in rank else None

    upward = [
        f"{module} imports {dep}"
        for module, deps in package_graph().items()
        for dep in deps
        if room(module) and room(dep) and rank[room(dep)] > rank[room(module)]
    ]
    assert not upward, "; ".join(sorted(upward))
