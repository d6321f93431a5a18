"""``python -m wisetut``: the command line of :mod:`wisetut.cli`."""

from wisetut.cli import main

raise SystemExit(main())
