"""connectorhub: an open, self-hostable platform for custom API connectors."""

__version__ = "0.1.0"
