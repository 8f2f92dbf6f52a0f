"""Benchmarks: `python -m bench` runs every method on every scenario and prints a table."""
