"""Command-line client for agent runs (DESIGN §4); the logic lives in the `cli` package."""

from cli.main import main
from core.process import exit_now

if __name__ == "__main__":
    exit_now(main())  # not sys.exit: see core/process.py
