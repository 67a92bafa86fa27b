"""probes/containers: see docs/ARCHITECTURE.md."""
