"""The Numenta Anomaly Benchmark (NAB) for the product's SQL detectors."""
