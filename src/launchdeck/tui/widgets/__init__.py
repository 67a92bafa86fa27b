"""One module per panel, plus small shared pieces. Widgets render readings; they never call probes."""
