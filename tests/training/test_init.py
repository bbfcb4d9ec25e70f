"""infossl.training as a whole: every function of its modules stays short enough to read at once."""

import ast
import io
import pathlib
import tokenize

import pytest

import infossl.training

TRAINING = pathlib.Path(infossl.training.__file__).parent
#: Code lines (docstrings, comments and blank lines left out) a function of infossl/training may have.
MAX_CODE_LINES = 60
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
           tokenize.ENDMARKER}


def _lines_with_code(source: str) -> set[int]:
    """Line numbers that hold a token other than a comment or layout."""
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in SKIPPED:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def _docstring_lines(node: ast.AST) -> set[int]:
    if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return set(range(body[0].lineno, body[0].end_lineno + 1))
    return set()


def function_lengths(source: str) -> dict[str, int]:
    """Code lines of every function by qualified name (a nested function counts inside its parent too)."""
    tree = ast.parse(source)
    code = _lines_with_code(source)
    docs: set[int] = set()
    for node in ast.walk(tree):
        docs |= _docstring_lines(node)
    out = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = f"{prefix}{getattr(child, 'name', '')}"
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                span = set(range(child.lineno, child.end_lineno + 1))
                out[name] = len((span & code) - docs)
            visit(child, f"{name}." if isinstance(child, (ast.ClassDef, ast.FunctionDef)) else prefix)

    visit(tree, "")
    return out


def test_the_counter_leaves_out_docstrings_comments_and_blank_lines():
    source = ('def f(x):\n    """Doc.\n\n    More doc.\n    """\n    # why\n\n'
              '    y = (x +\n         1)\n    return y\n')
    assert function_lengths(source) == {"f": 4}  # the def line, both lines of the bracketed sum, the return
    nested = "class A:\n    def g(self):\n        def h():\n            return 1\n        return h\n"
    assert function_lengths(nested) == {"A.g": 4, "A.g.h": 2}


@pytest.mark.parametrize("module", sorted(TRAINING.glob("*.py")), ids=lambda p: p.name)
def test_no_function_in_training_is_longer_than_60_code_lines(module):
    long = {name: n for name, n in function_lengths(module.read_text()).items() if n > MAX_CODE_LINES}
    assert long == {}, f"{module.name}: functions over {MAX_CODE_LINES} code lines: {long}"
