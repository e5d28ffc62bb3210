"""Role-based security inside solutions (DESIGN S5, A11): business units, owner teams,
security roles, record ownership and record shares, per environment."""
