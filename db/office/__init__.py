"""The campaign office's records: the monthly digest, retention, campaigns and their phases."""
