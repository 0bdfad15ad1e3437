"""Alembic scripts for the extension's tables (run by ``flask paylinks db``)."""
