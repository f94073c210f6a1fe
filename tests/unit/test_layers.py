"""Which package may import which, read from the source (every import statement, including
those inside functions or under TYPE_CHECKING).

The integration clients speak the outside systems' API with wire models of their own: they
may use the domain's value types (Money, CreditProfile, Contract), never the workflow's step
contracts, so a step can change without changing what a bank receives, and the other way
round. The simulators play those systems and know nothing of the platform's side."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports; `from a import b` counts as both `a` and `a.b` (b may be a
    submodule, as in `from domain import steps`)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"  # the project imports absolutely
            if node.module is not None:
                modules.add(node.module)
                modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def forbidden_imports(directory: Path, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """The modules under `directory` that import one of `forbidden` (or a module inside one)."""
    found: dict[str, list[str]] = {}
    for path in sorted(directory.rglob("*.py")):
        bad = sorted(m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            found[path.relative_to(directory).as_posix()] = bad
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("integrations", ("domain.steps", "activities", "workflows", "store", "api", "worker")),
        ("simulators", ("integrations", "activities", "workflows", "api", "worker")),
    ],
)
def test_a_package_imports_only_what_its_layer_may(package: str, forbidden: tuple[str, ...]) -> None:
    assert list((ROOT / package).rglob("*.py")), f"no modules under {package}/"
    assert forbidden_imports(ROOT / package, forbidden) == {}


def test_the_check_sees_each_form_of_import(tmp_path: Path) -> None:
    """The rule above could pass by missing imports: each spelling of one is caught."""
    sources = {
        "a.py": "from domain import steps\n",
        "b.py": "import domain.steps as s\n",
        "c.py": "def f() -> None:\n    from domain.steps import Registration\n",
        "d.py": "from domain.money import Money\nimport domain.stepsbook\n",
    }
    for name, source in sources.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    assert forbidden_imports(tmp_path, ("domain.steps",)) == {
        "a.py": ["domain.steps"],
        "b.py": ["domain.steps"],
        "c.py": ["domain.steps", "domain.steps.Registration"],
    }
