"""Command-line client for agent runs (DESIGN §4); the logic lives in the `cli` package."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
