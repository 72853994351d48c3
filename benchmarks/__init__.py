"""Benchmarks that score the product's detectors on public labelled data."""
