"""Missing packages: found without importing them, installed into the plugin's own folder."""

import os
import sys

import pytest

from egms_plugin.core import deps


def test_missing_sees_a_blocked_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyqtgraph", None)
    assert deps.missing(["numpy", "pyqtgraph", "pyqtgraph", "no_such_package_egms"]) == ["pyqtgraph",
                                                                                       "no_such_package_egms"]
    assert "python3-pyqtgraph" in deps.install_message(["pyqtgraph"])


def test_install_command_writes_only_into_the_plugin_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.delenv("EGMS_PIP_OPTIONS", raising=False)
    folder = deps.packages_folder(str(tmp_path))
    assert folder.startswith(str(tmp_path)) and folder.endswith(f"python{sys.version_info[0]}.{sys.version_info[1]}")
    plan = deps.install_command(["pyqtgraph", "numba"], folder, python=sys.executable)
    assert plan.command[:3] == [sys.executable, "-m", "pip"] and plan.command[-2:] == ["pyqtgraph", "numba"]
    assert "--user" in plan.command  # with PYTHONUSERBASE = our folder: pip counts QGIS' own numpy as installed
    assert plan.env["PYTHONUSERBASE"] == folder and "PYTHONPATH" not in plan.env
    extra = deps.install_command(["pyqtgraph"], folder, python=sys.executable, extra_args=["--no-index"])
    assert "--no-index" in extra.command


def test_activate_puts_the_folder_last_on_the_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = str(tmp_path / "pk")
    assert not deps.activate(folder)  # nothing installed yet: the path is left alone
    site = deps.site_folder(folder)
    os.makedirs(os.path.join(site, "egms_fake_pkg"))
    with open(os.path.join(site, "egms_fake_pkg", "__init__.py"), "w") as fh:
        fh.write("VALUE = 42\n")
    assert deps.activate(folder) and sys.path[-1] == site
    assert deps.activate(folder) and sys.path.count(site) == 1
    import egms_fake_pkg

    assert egms_fake_pkg.VALUE == 42
    sys.modules.pop("egms_fake_pkg")


def test_a_failing_pip_is_reported_with_its_output(tmp_path):
    plan = deps.InstallPlan(command=[sys.executable, "-c", "print('Collecting nothing'); print('ERROR: no such "
                                     "distribution'); raise SystemExit(1)"], env=dict(os.environ),
                            folder=str(tmp_path / "pk"), packages=["nothing"])
    lines = []
    with pytest.raises(deps.InstallFailed) as err:
        deps.run_install(plan, on_line=lines.append)
    assert "exit 1" in str(err.value) and "ERROR: no such distribution" in str(err.value)
    assert lines == ["Collecting nothing", "ERROR: no such distribution"] and "Collecting" in err.value.output


def test_a_cancelled_install_stops_pip(tmp_path):
    plan = deps.InstallPlan(command=[sys.executable, "-u", "-c", "import time\nfor i in range(100):\n print(i)\n "
                                     "time.sleep(0.1)"], env=dict(os.environ), folder=str(tmp_path / "pk"),
                            packages=["slow"])
    seen = []
    with pytest.raises(deps.InstallFailed, match="cancelled"):
        deps.run_install(plan, on_line=seen.append, is_cancelled=lambda: len(seen) >= 3)
    assert len(seen) == 3  # pip was killed after the third line, not run to its end


def test_find_python_finds_an_interpreter_of_this_version():
    python = deps.find_python()
    assert python is not None and os.path.isfile(python)
