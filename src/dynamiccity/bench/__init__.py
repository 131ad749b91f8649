"""Benchmarks: speed and memory targets live here, written as JSON, never in timed tests."""
