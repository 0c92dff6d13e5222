"""``python -m sps``: the ``sps`` command line (see :mod:`sps.cli`)."""
from .cli import main

raise SystemExit(main())
