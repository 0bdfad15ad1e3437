"""Sending a link to many contacts by SMS and email, each with a personal URL."""
