"""The command line and what it runs: info, bench, rechunk, the demo."""
