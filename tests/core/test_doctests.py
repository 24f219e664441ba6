"""The ``>>>`` examples of every core module run, as the module's users would type them."""

import doctest
import importlib
import pkgutil

import pytest

import egms_plugin.core as core


def core_modules():
    names = [core.__name__]
    for info in pkgutil.walk_packages(core.__path__, prefix=core.__name__ + "."):
        names.append(info.name)
    return sorted(names)


MODULES = core_modules()


def test_every_core_module_is_found():
    assert "egms_plugin.core.conventions" in MODULES and "egms_plugin.core.psi.chain" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (see the output above)"
