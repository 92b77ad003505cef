"""What a client outside the server needs: the URL of a live test server and an API key of
one company. The clients (the Python SDK, the `bigledger` command, the JavaScript module) talk
to it over real HTTP, with the default rate limits."""

import pytest


@pytest.fixture
def server_url(live_server) -> str:
    return live_server.url


@pytest.fixture
def api_key(credentials) -> str:
    return credentials.api_key
