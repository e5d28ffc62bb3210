"""Calling APIs through connections (DESIGN section 4, rules R1–R6)."""
