"""audit: see docs/ARCHITECTURE.md."""
