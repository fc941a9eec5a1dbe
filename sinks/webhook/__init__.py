"""Webhook delivery: a subscriber's feed POSTed, signed, to the URL its contract names."""
