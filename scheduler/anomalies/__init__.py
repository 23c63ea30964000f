"""The anomaly report's job: each closed round's, and each month's for the service ratings."""
