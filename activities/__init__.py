"""Activities: all I/O (LLM providers, tools, store)."""
