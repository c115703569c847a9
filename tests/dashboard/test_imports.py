"""The dashboard's house rules, checked over every module under `dashboard/` (no hand-kept list).

- A module in a page's room (`dashboard/views/<page>/`) is imported only by that page's package:
  what two pages share lives at the top of `dashboard/`.
- No dashboard module imports TensorFlow, Keras or `trainer.train` when it is imported; the
  dashboard reaches `trainer/` only to load a model for Predict and Grad-CAM, inside functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
HEAVY = ("tensorflow", "keras", "trainer.train")
# What the dashboard may use of trainer/, and only inside a function.
TRAINER_ALLOWED = ("trainer.predict", "trainer.gradcam")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[Path]:
    return sorted(DASHBOARD.rglob("*.py"))


def imported(node: ast.AST, module: str) -> Iterator[str]:
    """Every module name an import statement names, `from x import y` giving `x.y` and `x`."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = module.split(".")[: -node.level]
            base = ".".join([*package, base] if base else package)
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def top_level_imports(tree: ast.Module) -> Iterator[ast.AST]:
    """Import statements that run when the module is imported (not in functions or
    `if TYPE_CHECKING:` blocks)."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)
        elif isinstance(node, ast.With):
            pending.extend(node.body)


def room(module: str) -> str | None:
    """`dashboard.views.compare` for any module in Compare's room; None outside the rooms."""
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 and parts[:2] == ["dashboard", "views"] else None


def test_the_walk_sees_every_page_room() -> None:
    """The guard walks the tree: every page's room and the shared modules are in it."""
    rooms = {room(module_name(path)) for path in modules()} - {None}
    pages = {p.name for p in (DASHBOARD / "views").iterdir() if (p / "page.py").exists()}
    assert rooms == {f"dashboard.views.{page}" for page in pages}
    assert len(pages) >= 8


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_room_is_imported_only_by_its_own_page(path: Path) -> None:
    """Shared code sits at the top of `dashboard/`; one page never reaches into another's room."""
    module = module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    trespasses = sorted(
        name
        for node in ast.walk(tree)
        for name in imported(node, module)
        if (target := room(name)) is not None and target != room(module)
    )
    assert not trespasses, f"{module} imports from another page's room: {trespasses}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_tensorflow_keras_or_the_trainer_at_import_time(path: Path) -> None:
    """TensorFlow costs seconds to import: only the functions that predict or preview load it."""
    module = module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    heavy = sorted(
        name
        for node in top_level_imports(tree)
        for name in imported(node, module)
        if name.split(".")[0] in ("tensorflow", "keras")
        or name == "trainer.train"
        or name.startswith("trainer.")
    )
    assert not heavy, f"{module} imports {heavy} when it is imported"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_dashboard_uses_the_trainer_only_to_load_and_explain_models(path: Path) -> None:
    """Configs come from experiment/; trainer/ is reached only for Predict and Grad-CAM."""
    module = module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    used = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in imported(node, module)
        if name == "trainer" or name.startswith("trainer.")
    }
    others = sorted(n for n in used if not n.startswith(TRAINER_ALLOWED) and n != "trainer")
    assert not others, f"{module} imports {others} from trainer/"


def test_importing_every_dashboard_module_leaves_tensorflow_unloaded() -> None:
    """The same rule, run for real: import every module but the page scripts (which draw)."""
    names = [module_name(p) for p in modules() if p.name != "page.py" and p.name != "app.py"]
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in names)
        + f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        + "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
