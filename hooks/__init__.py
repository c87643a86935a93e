"""Events and their consumers.

Every change writes an event row in its own transaction (storage/metadata/events.py, kinds in
storage/event_kinds.py, who caused it in storage/actor.py). This package consumes that outbox:

- fanout.py: events become delivery rows, one per matching subscription;
- dispatch.py: the delivery loop every serving process runs (leases in the database, order,
  retries with backoff.py, dead letters, 410);
- subscribers.py: the interface of in-process consumers (the scanner, deploy triggers);
- webhooks.py: managing webhooks (the CLI and /api/v1 use it); sender.py, signing.py,
  destinations.py: one signed request to a permitted address; formats/: the bodies;
- retention.py: pruning what is old;
- deploy/: push to deploy (deploy rules, their runs, deployment histories).
"""
