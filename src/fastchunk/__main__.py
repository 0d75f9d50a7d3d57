"""`python -m fastchunk`: the command-line interface."""

from fastchunk.tools.cli import main

raise SystemExit(main())
