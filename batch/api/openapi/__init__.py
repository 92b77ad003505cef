"""The batch API in OpenAPI 3 (drf-spectacular), generated from the registered handlers."""
