"""``python -m sgns_helpers download|train|evaluate`` (see :mod:`sgns_helpers.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
