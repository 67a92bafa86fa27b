"""tui/flows: see docs/ARCHITECTURE.md."""
