"""engine: see docs/ARCHITECTURE.md."""
