"""Fault tests: real PostgreSQL, Redis, gunicorn and workers under a bounded load."""
