"""Text-to-Pay: a payment request texted to one contact, with a single-use link."""
