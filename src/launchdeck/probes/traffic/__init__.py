"""probes/traffic: see docs/ARCHITECTURE.md."""
