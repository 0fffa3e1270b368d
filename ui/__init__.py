"""Screens of the IF-Lab app, one module per tab; app.py composes them. No torch at import time."""
