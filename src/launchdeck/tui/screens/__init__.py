"""Screens: the dashboard, help; later the checklist, action run and wall screens."""
