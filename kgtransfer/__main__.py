"""``python -m kgtransfer``: the ``kgtransfer`` command (as ``python -m kgtransfer.cli``)."""

import sys

from kgtransfer.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
