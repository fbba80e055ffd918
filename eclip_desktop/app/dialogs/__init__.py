"""Dialogs: export and batch export."""
