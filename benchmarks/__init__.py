"""Benchmarks of nhsrisk (asv suites, the NumPy reference model and ``python -m benchmarks.compare``)."""
