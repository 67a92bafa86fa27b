"""The read-only browser view of the wall: one engine, many viewers, a token (launchdeck serve)."""
