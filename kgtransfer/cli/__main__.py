"""``python -m kgtransfer.cli``: the ``kgtransfer`` command."""

import sys

from kgtransfer.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
