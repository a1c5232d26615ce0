"""Benchmarks of matml's potentials."""
