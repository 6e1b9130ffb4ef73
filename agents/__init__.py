"""The demo agents: each package defines one agent (core/agent.py) the runtime serves by name."""
