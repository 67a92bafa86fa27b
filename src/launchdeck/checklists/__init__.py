"""Headless checklists: the Markdown parser, the sign-off ledger, live evidence, and the state fold."""
