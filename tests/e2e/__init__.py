"""End-to-end tests: the real embedded model, real servers."""
