"""Security schemes: Bearer JWT comes from drf-spectacular's simplejwt support; the API key is ours.

The API-key authentication class is expected at ``accounts.authentication.ApiKeyAuthentication``
(a DRF ``BaseAuthentication`` reading ``X-API-Key``). ``optional = True`` keeps the schema
generation quiet while that class does not exist; ``ContractAutoSchema.get_auth`` declares the
scheme and lists it on every authenticated operation either way (API.md: every API path takes
either credential).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

API_KEY_SCHEME_NAME = "apiKeyAuth"
API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "An API key created with POST /auth/api-keys (its secret is shown once).",
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = API_KEY_SCHEME_NAME
    optional = True
    match_subclasses = True

    def get_security_definition(self, auto_schema):
        return API_KEY_SCHEME
