"""OpenAPI security scheme for our Bearer JWT class (drf-spectacular); loaded by ``AccountsConfig``.

The X-API-Key scheme is declared in :mod:`config.openapi.auth`.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class BearerJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.BearerJWTAuthentication"
    name = "jwtAuth"
