"""QA: the stack summary a user reads in the log."""

import os
import shutil

from egms_plugin.core.sar.stack import StackFolder


def test_describe_gives_units_and_says_what_is_missing(small_stack, tmp_path):
    text = StackFolder(small_stack).describe()
    assert "geometry: λ = 0.055466 m, incidence 39°, heading -10°, slant range 875 km, orbit ascending" in text
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in os.listdir(small_stack):
        if name.endswith(".tif"):
            shutil.copy(os.path.join(small_stack, name), bare / name)
    text = StackFolder(bare).describe()
    assert "None" not in text
    assert "geometry: λ = 0.055466 m; incidence, heading, slant range, orbit not given (stack.json)" in text
