"""Command-line client for agent runs (docs/architecture.md); the logic lives in the `cli` package."""

from cli.main import main
from core.process import exit_now

if __name__ == "__main__":
    exit_now(main())  # not sys.exit: see core/process.py
