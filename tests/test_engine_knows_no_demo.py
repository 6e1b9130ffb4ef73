"""The engine (workflows/, core/, activities/) names no demo domain: agents stand above it.

Comments and docstrings may name an example; code (identifiers, strings) may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ("workflows", "core", "activities")
DEMO_WORDS = ("merchant", "refund", "pay_", "mid0", "shipping", "shopper")


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def code_words(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every identifier and non-docstring string in a module."""
    tree = ast.parse(path.read_text(), str(path))
    skip = docstrings(tree)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            out.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            out.append((node.lineno, node.attr))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.append((node.lineno, node.name))
        elif isinstance(node, ast.arg):
            out.append((node.lineno, node.arg))
        elif isinstance(node, ast.alias):
            out.append((0, node.name))
    return out


FILES = sorted(p for package in ENGINE for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_no_demo_word_in_engine_code(path: Path) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}"
        for line, text in code_words(path)
        if any(word in text.lower() for word in DEMO_WORDS)
    ]
    assert not hits, "\n".join(hits)


def test_the_check_finds_a_demo_word(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        '"""A refund example in a docstring is fine."""\n'
        '# refund in a comment too\nTOOL = "initiate_refund"\n'
    )
    assert [text for _, text in code_words(sample) if "refund" in text] == ["initiate_refund"]
