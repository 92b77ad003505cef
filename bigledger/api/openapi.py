"""drf-spectacular extensions for the project's own pieces."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyBearerScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <api key>` (bigledger.auth.ApiKeyAuthentication)."""

    target_class = "bigledger.auth.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key issued to one user in one company.",
        }
