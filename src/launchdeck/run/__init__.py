"""run: see docs/ARCHITECTURE.md."""
