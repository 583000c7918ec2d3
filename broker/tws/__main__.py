"""``python -m broker.tws``: run the simulated TWS until SIGINT/SIGTERM (see ``runner``)."""

from __future__ import annotations

import sys

from broker.tws.runner import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
