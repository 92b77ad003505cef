"""Webhooks: endpoints a company registers, and the signed, retried delivery of job events."""
