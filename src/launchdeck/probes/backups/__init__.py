"""Headless backup knowledge: what a backup is, when it is fresh, how to read each source, how to verify.

The collectors (probes/backups.py) run the commands and queries; everything here parses and judges,
so it is tested without a server and shared by the dashboard, `launchdeck check` and
`launchdeck backups ...`.
"""
