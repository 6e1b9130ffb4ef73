"""Benchmarks that print side-by-side tables (bench/results/ is gitignored)."""
