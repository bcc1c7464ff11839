"""Per-paper experiment logic, called by ``experiments/<paper>/run.py`` and the demo."""
