"""Apps and flows (DESIGN F1–F3, A7, A8): assets that call connectors through slots."""
