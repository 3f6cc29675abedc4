"""Persistent background jobs: a queue in the database and a worker pool (issue 7, item 3)."""
