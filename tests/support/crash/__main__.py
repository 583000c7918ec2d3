"""``python -m tests.support.crash``: the crash harness's command line (see the package
docstring)."""

from __future__ import annotations

import sys

from tests.support.crash.cli import main

if __name__ == "__main__":
    sys.exit(main())
