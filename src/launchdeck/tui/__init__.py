"""tui: see docs/ARCHITECTURE.md."""
