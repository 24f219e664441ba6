"""The import rules of ARCHITECTURE.md, checked on the source (AST, no imports)."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = ("core", "layers", "processing", "ui", "batch")
MAX_LINES = 500
OVER_THE_LIMIT = {"core/psi/arcs.py": "numba kernels of the arc search and their tables"}


def modules():
    out = []
    for top in SHIPPED:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            out += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files if f.endswith(".py")]
    return sorted(out) + ["compat.py", "egms_plugin.py", "__init__.py"]


def package_of(rel):
    parts = rel[:-3].split("/")
    return parts[:-1] if parts[-1] != "__init__" else parts[:-1]


def imports(rel):
    """``(line, absolute module inside the plugin or external name, names)`` of every import of ``rel``."""
    tree = ast.parse(open(os.path.join(ROOT, rel), encoding="utf-8").read())
    pkg = package_of(rel)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] + (node.module.split(".") if node.module else [])
                yield node.lineno, "egms_plugin." + ".".join(base) if base else "egms_plugin", [a.name for a in
                                                                                               node.names]
            else:
                yield node.lineno, node.module, [a.name for a in node.names]


MODULES = modules()


def test_the_tree_is_scanned():
    assert "core/psi/chain.py" in MODULES and "ui/dock.py" in MODULES and "batch/runner.py" in MODULES
    assert len(MODULES) > 60


@pytest.mark.parametrize("rel", MODULES)
def test_import_rules(rel):
    top = rel.split("/")[0]
    bad = []
    for line, module, names in imports(rel):
        if top == "core" and module.split(".")[0] in ("qgis", "processing", "PyQt5", "PyQt6"):
            bad.append(f"{rel}:{line}: core imports {module}")
        if module.startswith(("egms_plugin.layers", "egms_plugin.processing", "egms_plugin.ui", "egms_plugin.compat")) \
                and top == "core":
            bad.append(f"{rel}:{line}: core imports {module}")
        if top == "processing" and module.startswith("egms_plugin.ui"):
            bad.append(f"{rel}:{line}: processing imports {module}")
        if top == "ui" and module.startswith("egms_plugin.processing"):
            bad.append(f"{rel}:{line}: ui imports {module}")
        if top == "batch" and (module.split(".")[0] in ("qgis", "processing", "PyQt5", "PyQt6") or module.startswith(
                ("egms_plugin.layers", "egms_plugin.processing", "egms_plugin.ui", "egms_plugin.compat"))):
            bad.append(f"{rel}:{line}: batch imports {module} (workers have no QGIS: the core only)")
        if top == "layers" and module.startswith(("egms_plugin.ui", "egms_plugin.processing")):
            bad.append(f"{rel}:{line}: layers imports {module}")
        if module.startswith("egms_plugin.testing") or module.split(".")[0] == "testing":
            bad.append(f"{rel}:{line}: shipped code imports the test helpers ({module})")
        own = module.startswith("egms_plugin")
        for name in names:
            if own and name.startswith("_") and name != "__version__":
                bad.append(f"{rel}:{line}: imports the private name {name} of {module}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("rel", MODULES)
def test_module_size(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as fh:
        n = sum(1 for _ in fh)
    if rel in OVER_THE_LIMIT:
        return
    assert n <= MAX_LINES, f"{rel} has {n} lines (> {MAX_LINES}): split it by topic or list it with a reason"
