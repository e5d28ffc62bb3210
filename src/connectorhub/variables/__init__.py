"""Environment variables (R6; solution packaging in S1–S3)."""
