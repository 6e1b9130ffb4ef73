"""Typed contracts shared by workflows, activities, the worker and the CLI."""
