"""Benchmarks: scripts that print their figures (see each docstring)."""
