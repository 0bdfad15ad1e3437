"""Fast tests of the money core: no Flask app, no database."""
