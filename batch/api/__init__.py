"""The batch API: urls, views, responses, OpenAPI, idempotency, rate limits and metrics."""
