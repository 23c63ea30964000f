"""The office's periodic jobs: the monthly digest and the retention purge."""
