"""The office's anomaly report on demand (/anomalies) and its exclusions (/exclude)."""
