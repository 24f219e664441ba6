"""``python3 -m egms_plugin.batch`` — see :mod:`.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
