"""retail-anomaly: SQL-first anomaly detection for retail e-commerce."""
