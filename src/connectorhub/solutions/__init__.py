"""Solutions (DESIGN S1–S5): packages of connectors, connection references, flows, apps
and environment variables that move between environments."""
