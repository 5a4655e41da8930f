"""Watching a job: the API-efficient poller, MQTT watchers and the live view."""
