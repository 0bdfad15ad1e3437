"""Sending a link to many contacts by SMS and email, each with a personal URL."""

from flask_paylinks.sends import delivery

delivery.register()
