"""The package's modules import one another without a circle and never from a higher layer than
their own (``LAYERS``), counting the imports made inside functions too: those hide a circle from
Python, not from a reader. No module is over ``MAX_LINES`` lines."""

from __future__ import annotations

import ast
from pathlib import Path

import neural_atlases

PACKAGE = Path(neural_atlases.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports, anywhere in its text."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                # ``from package import module`` imports the module
                targets.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_cycles_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_imports_itself_round_a_circle():
    graph = import_graph()
    assert "neural_atlases.pipeline.train" in graph and "neural_atlases.bench.spine" in graph
    assert cycles(graph) == []


LAYERS = [
    # what everything may use: errors, progress, the device, the config, the one IoU
    ["neural_atlases", "errors", "progress", "device", "config", "evaluation.overlap"],
    ["io"],  # input and output: images, videos, the project layout
    ["conventions"],
    ["preprocess"],  # flow, masks, transforms
    ["model"],  # fields, losses, the atlas model
    ["training"],  # variants, initialisation, the trainer, checkpoints
    ["baking"],
    ["evaluation", "editing", "export"],
    ["report"],
    ["pipeline", "data"],  # the commands' jobs; clips and synthetic scenes
    ["studio"],
    ["cli", "__main__"],
    ["bench"],  # above everything it measures
]
"""The package's layers, lowest first (``../shared/STYLE.md``, practice 1): a module may import its
own layer and those below, never one above. Names are relative to the package; the longest
prefix wins (``evaluation.overlap`` sits lower than the rest of ``evaluation``)."""


def layer_of(module: str) -> int:
    best, length = -1, -1
    for level, names in enumerate(LAYERS):
        for name in names:
            full = "neural_atlases" if name == "neural_atlases" else f"neural_atlases.{name}"
            if (module == full or module.startswith(full + ".")) and len(full) > length:
                best, length = level, len(full)
    assert best >= 0, f"{module} is in no layer of LAYERS: add it"
    return best


def test_layer_of_takes_the_longest_prefix():
    assert layer_of("neural_atlases.evaluation.overlap") == 0
    assert layer_of("neural_atlases.evaluation.sticker") == layer_of("neural_atlases.editing.render")
    assert layer_of("neural_atlases.preprocess.flow") < layer_of("neural_atlases.model.fields")


def test_no_module_imports_a_higher_layer():
    graph = import_graph()
    upward = [
        f"{module} -> {target}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


MAX_LINES = 400
"""A module longer than this is split where its sections are (``../shared/STYLE.md``)."""


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
