"""Events and their consumers: the outbox's fan-out to subscriptions (webhooks and the
in-process subscribers of hooks/subscribers.py), delivery with retries, and retention."""
