"""probes/services: see docs/ARCHITECTURE.md."""
