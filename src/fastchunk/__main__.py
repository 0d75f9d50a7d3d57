"""`python -m fastchunk`: the command-line interface."""

from fastchunk.cli import main

raise SystemExit(main())
