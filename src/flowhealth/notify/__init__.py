"""Notifications: render alert payloads, deliver them to Slack or the console, via the outbox."""
