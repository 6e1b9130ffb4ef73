"""Agent definitions served by the runtime, one package each (`agents/<name>/`)."""
