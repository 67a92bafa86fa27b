"""Deploy, rollback and restore, headless: plans, runners (here and over SSH), the lock, the audit.

Nothing here imports Textual; the TUI and `launchdeck act` both drive `flow.run_action`.
"""
