"""Webhooks: events that happen in a project, and the payloads sent for them."""
