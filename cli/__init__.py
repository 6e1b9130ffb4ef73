"""The command-line client: starts runs, follows them, and carries human decisions."""
