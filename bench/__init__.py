"""Benchmarks: `make bench` (python -m bench). Not tests: nothing here fails on a slow machine."""
