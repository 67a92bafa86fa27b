"""DESIGN rule 1: only tui/ may import textual."""

import ast
import subprocess
import sys
from pathlib import Path

import launchdeck

PACKAGE = Path(launchdeck.__file__).parent
UI = {"tui"}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        dotted = ".".join(("launchdeck", *relative.with_suffix("").parts)).removesuffix(".__init__")
        found.append((dotted, relative))
    return found


def _is_ui(relative: Path) -> bool:
    return relative.parts[0] in UI


def test_headless_modules_do_not_pull_in_textual_when_imported():
    headless = [name for name, rel in _modules() if not _is_ui(rel) and rel.name != "__main__.py"]
    assert "launchdeck.engine.polling" in headless and "launchdeck.core.config" in headless
    script = (
        "import importlib, sys\n"
        f"for name in {headless!r}:\n"
        "    importlib.import_module(name)\n"
        "    leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "    if leaked: raise SystemExit(f'{name} imported {leaked[0]}')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _textual_imports(relative: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse((PACKAGE / relative).read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append(node.module or "")
    return [f"{relative}: {m}" for m in found if m == "textual" or m.startswith("textual.")]


def test_no_textual_import_statement_outside_the_ui_layer():
    offenders = [hit for _, rel in _modules() if not _is_ui(rel) for hit in _textual_imports(rel)]
    assert offenders == []
    assert _textual_imports(Path("tui/app.py")), "the scanner must see the UI layer's own textual imports"
