"""Static Qt 6 check: every Qt name the code uses must exist in PyQt6.

QGIS 4 runs on Qt 6, where ``qgis.PyQt.QtX`` is exactly ``PyQt6.QtX`` (QGIS' shim
adds nothing but a few QVariant helpers).  PyQt6 dropped the unscoped enum
names (``Qt.LeftButton`` is ``Qt.MouseButton.LeftButton``), ``exec_()``,
``QVariant.Int`` and friends, and moved ``QAction`` to QtGui.  This module finds
every attribute chain rooted at a Qt import (``from qgis.PyQt.QtCore import Qt``
→ ``Qt.MouseButton.LeftButton``; ``from qgis.PyQt import QtCore`` →
``QtCore.Qt.…``; pyqtgraph's ``pg.QtCore.…``) by an AST scan, and resolves each
one against PyQt6 in a subprocess (PyQt5 and PyQt6 must not share a process).

Exempt: imports inside the ``except`` branch of a ``try`` (the Qt 5 fallback of a
compatibility import), and lines marked ``# qt5-only`` (a branch that only runs
on Qt 5, e.g. field types before QGIS 3.38) — say why on the line.

    python3 -m egms_plugin.testing.qt6 [files or folders …]   # prints the names PyQt6 lacks
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass

QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtSvg", "QtNetwork", "QtXml", "QtTest", "QtPrintSupport", "QtSql")
QT5_ONLY_ATTRIBUTES = {"exec_": "exec()", "print_": "print()"}
"""Method names that PyQt6 removed, flagged whatever object they are called on."""
MARKER = "# qt5-only"


@dataclass(frozen=True)
class Use:
    path: str
    line: int
    name: str  # "QtCore.Qt.MouseButton.LeftButton"


def _dotted(node):
    """``['a', 'b', 'c']`` of an ``a.b.c`` expression, or None when its root is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _fallback_nodes(tree):
    """ids of the import nodes inside ``except`` branches (compatibility fallbacks)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                for inner in ast.walk(handler):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        ids.add(id(inner))
    return ids


def _qt_module(module):
    """``"QtCore"`` for ``qgis.PyQt.QtCore`` / ``PyQt5.QtCore`` / ``pyqtgraph.Qt.QtCore``, else None."""
    if not module:
        return None
    for prefix in ("qgis.PyQt.", "PyQt5.", "PyQt6.", "pyqtgraph.Qt."):
        if module.startswith(prefix) and module[len(prefix):] in QT_MODULES:
            return module[len(prefix):]
    return None


def scan_source(text, path="<string>"):  # noqa: C901 - one AST walk collecting the import roots and their uses
    """Every Qt name used in ``text``: a list of :class:`Use` (chains as PyQt6 must resolve them)."""
    tree = ast.parse(text, filename=path)
    lines = text.splitlines()
    fallback = _fallback_nodes(tree)
    roots = {}  # local name -> qualified prefix ("QtCore.Qt" or "QtCore")
    uses = []

    def exempt(lineno):
        return MARKER in lines[lineno - 1] if 0 < lineno <= len(lines) else False

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and id(node) not in fallback:
            mod = _qt_module(node.module)
            if mod:
                for alias in node.names:
                    roots[alias.asname or alias.name] = f"{mod}.{alias.name}"
                    if not exempt(node.lineno):
                        uses.append(Use(path, node.lineno, f"{mod}.{alias.name}"))
            elif node.module in ("qgis.PyQt", "PyQt5", "PyQt6", "pyqtgraph.Qt"):
                for alias in node.names:
                    if alias.name in QT_MODULES:
                        roots[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pyqtgraph":
                    roots.setdefault(alias.asname or "pyqtgraph", "@pyqtgraph")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in QT5_ONLY_ATTRIBUTES and not exempt(node.lineno):
            uses.append(Use(path, node.lineno, f"@removed.{node.attr}"))
        if not isinstance(node, (ast.Attribute, ast.Name)):
            continue
        parts = _dotted(node)
        if not parts or parts[0] not in roots:
            continue
        if exempt(node.lineno):
            continue
        prefix = roots[parts[0]]
        if prefix == "@pyqtgraph":  # pg.QtCore.Qt.…: pyqtgraph's own Qt shim is PyQt6 there
            if len(parts) < 3 or parts[1] not in QT_MODULES:
                continue
            uses.append(Use(path, node.lineno, ".".join(parts[1:])))
        else:
            uses.append(Use(path, node.lineno, ".".join([prefix, *parts[1:]])))
    # keep only maximal chains: Qt.MouseButton.LeftButton implies Qt.MouseButton
    names = {(u.path, u.line, u.name) for u in uses}
    keep = []
    for u in uses:
        longer = any(p == u.path and ln == u.line and n.startswith(u.name + ".") for p, ln, n in names)
        if not longer and u not in keep:
            keep.append(u)
    return keep


def python_files(paths):
    for top in paths:
        if os.path.isfile(top):
            yield top
            continue
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


_RESOLVER = r"""
import importlib, json, sys
names = json.load(sys.stdin)
missing = []
for name in names:
    if name.startswith("@removed."):
        missing.append(name)
        continue
    module, *chain = name.split(".")
    try:
        obj = importlib.import_module("PyQt6." + module)
        for part in chain:
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        missing.append(name)
json.dump(missing, sys.stdout)
"""


def missing_in_pyqt6(uses, python=None):
    """The uses whose name PyQt6 lacks; runs ``python`` (default: this interpreter) with PyQt6 importable."""
    names = sorted({u.name for u in uses})
    done = subprocess.run([python or sys.executable, "-c", _RESOLVER], input=json.dumps(names), capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    if done.returncode != 0:
        raise RuntimeError(f"PyQt6 resolver failed: {done.stderr.strip()[-2000:]}")
    missing = set(json.loads(done.stdout))
    return [u for u in uses if u.name in missing]


def describe(use):
    if use.name.startswith("@removed."):
        attr = use.name.split(".", 1)[1]
        return f"{use.path}:{use.line}: {attr}() does not exist in PyQt6; use {QT5_ONLY_ATTRIBUTES[attr]}"
    return f"{use.path}:{use.line}: {use.name} does not exist in PyQt6"


def check(paths, python=None):
    uses = []
    for path in python_files(paths):
        with open(path, encoding="utf-8") as fh:
            uses.extend(scan_source(fh.read(), path))
    return uses, missing_in_pyqt6(uses, python)


if __name__ == "__main__":
    found, bad = check(sys.argv[1:] or ["."])
    for use in bad:
        print(describe(use))
    print(f"{len(found)} Qt names checked, {len(bad)} missing in PyQt6", file=sys.stderr)
    sys.exit(1 if bad else 0)
