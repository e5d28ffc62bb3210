"""User-facing text is plain words: rule numbers of the specification ("(A5)", "(S1–S4)",
"… deleted, A8)") belong in code, tests and docs, not in what users read. Every string
literal of the source is checked — error messages, CLI help and OpenAPI descriptions
(the docstrings of CLI commands and REST routes are their help text) — except the
docstrings of other modules, classes and functions, which are for readers of the code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import connectorhub

SOURCE = Path(connectorhub.__file__).parent
RULE = r"[ACFKORS]\d{1,2}(?:\s?[–-]\s?[ACFKORS]?\d{1,2})?"
# A parenthesis of rule numbers, a rule number closing a parenthesis, or one leading a text.
CITED = re.compile(
    r"\((?:rules? )?" + RULE + r"(?:(?:,\s*|\s+and\s+|\s+or\s+|/|;\s*)" + RULE + r")*[;)]"
    r"|[,:]\s*" + RULE + r"\)"
    r"|^" + RULE + r"(?:,\s*" + RULE + r")*:\s"
)


def _is_shell(path: Path) -> bool:
    relative = path.relative_to(SOURCE).as_posix()
    return relative.startswith(("cli/", "web/")) or path.name == "api.py"


def _docstrings(tree: ast.AST, shell: bool) -> set[int]:
    """ids of the docstring nodes that are for readers of the code only."""
    found = set()
    for node in [tree, *ast.walk(tree)]:
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if shell and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # a command's or a route's docstring is shown to users
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            found.add(id(body[0].value))
    return found


def user_texts_citing_rules() -> list[str]:
    out = []
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree, _is_shell(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                if CITED.search(node.value):
                    out.append(f"{path.relative_to(SOURCE)}:{node.lineno}: {node.value[:100]!r}")
    return out


def test_no_user_text_cites_a_rule_number():
    found = user_texts_citing_rules()
    assert not found, "rule numbers in user-facing text:\n" + "\n".join(found)


def test_templates_cite_no_rule_number():
    found = [
        f"{path.name}: {match.group(0)}"
        for path in sorted((SOURCE / "web" / "templates").glob("*.html"))
        for match in CITED.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found


def test_the_check_finds_what_it_looks_for():
    for cited in ("Revoked (A5).", "shared (A6, A7)", "deleted, A8)", "(S1–S4)", "A11: what changes", "(O1; docs)"):
        assert CITED.search(cited), cited
    for plain in ("Abc (v1.2)", "A1B2C3", "HTTP 404", "port 5432 (PostgreSQL)", "SHA256 (hex)"):
        assert not CITED.search(plain), plain
