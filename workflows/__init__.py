"""Deterministic workflow code: the agent loop and its pure policies."""
