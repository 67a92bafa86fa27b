"""launchdeck: the launch-day operations dashboard for the terminal."""

__version__ = "0.1.0"
