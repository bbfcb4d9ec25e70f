"""infossl/__init__.py imports the whole package; no two of its modules import each other, directly or through
others. The import graph is read from the source with ``ast``: module-level and function-local imports alike
(a function-local import is a cycle that only waits for its call), leaving out ``if TYPE_CHECKING:`` blocks,
which never run. ``tests/test_layers.py`` ranks packages; this test sees cycles inside one package too.

An edge goes to the module that an import executes: ``from infossl.a import b`` reaches ``infossl.a.b`` when b
is a submodule, else ``infossl.a`` (its ``__init__``); ``import infossl.a.b`` reaches ``infossl.a.b``.
"""

import ast
import pathlib

import infossl

ROOT = pathlib.Path(infossl.__file__).parent

#: Cycles still allowed, each as the sorted tuple of its modules, with the reason. Empty: do not add a cycle
#: between modules of one owner; break it by moving the shared part to a module both import.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def _module_names() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("infossl",) + path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The infossl modules that the code in ``tree`` (the source of ``module``) imports, at any depth."""
    found: set[str] = set()

    def target(name: str) -> None:
        while name and name not in modules:  # ``import infossl.a.b.name`` of a non-module: its module
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "infossl":
                    target(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package of this module, up level - 1 packages
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix.split(".")[0] == "infossl":
                for alias in node.names:
                    sub = f"{prefix}.{alias.name}"
                    target(sub if sub in modules else prefix)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the infossl modules it imports, for every module of the package."""
    paths = _module_names()
    names = set(paths)
    return {m: imports_of(ast.parse(p.read_text()), m, p.name == "__init__.py", names)
            for m, p in paths.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The components of more than one module (each a set of modules that reach each other), Tarjan's
    algorithm written iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    components.append(sorted(comp))
    return components


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One closed path through ``component``, starting and ending at its first module (for the message)."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to start
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    nxt.append(child)
        frontier = nxt
    return component


def test_no_import_cycle_between_modules():
    graph = import_graph()
    cycles = [c for c in strongly_connected(graph) if tuple(c) not in KNOWN_CYCLES]
    message = "\n".join(" -> ".join(a_cycle(graph, c)) for c in cycles)
    assert cycles == [], f"import cycles (module-level and function-local imports):\n{message}"


def test_the_allow_list_has_no_stale_entries():
    current = {tuple(c) for c in strongly_connected(import_graph())}
    assert sorted(set(KNOWN_CYCLES) - current) == []


def test_the_checker_sees_function_local_imports_and_skips_type_checking_blocks():
    modules = {"infossl", "infossl.a", "infossl.a.b", "infossl.a.c", "infossl.d"}
    src = ("from typing import TYPE_CHECKING\n"
           "from infossl.a import b, helper\n"
           "if TYPE_CHECKING:\n    from infossl.d import Thing\n"
           "def f():\n    from . import c\n    import infossl.d.name\n")
    expected = {"infossl.a.b", "infossl.a", "infossl.a.c", "infossl.d"}
    assert imports_of(ast.parse(src), "infossl.a.x", False, modules) == expected
    hidden = ast.parse("if TYPE_CHECKING:\n    import infossl.d\n")
    assert imports_of(hidden, "infossl.a", True, modules) == set()


def test_the_cycle_finder_reports_each_cycle_as_a_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["d", "e"]]
    assert a_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []
