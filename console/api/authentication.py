from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from console.audit import Actor, client_ip, set_actor
from console.models import ApiToken, hash_token

# Writing last_used_at on every call would turn each read into a write; a minute is precise
# enough for "last used" in the token list.
LAST_USED_PRECISION = timedelta(minutes=1)


class TeamTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <token>`; the token acts for its user within its one team."""

    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = (
            ApiToken.objects.usable()
            .select_related("user", "team")
            .filter(key_hash=hash_token(key))
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # The token, not just its user, is the actor of whatever this request changes.
        set_actor(Actor(user=token.user, token=token, ip=client_ip(self._request)))
        return token.user, token

    def authenticate(self, request):
        self._request = request
        return super().authenticate(request)


class TeamTokenScheme(OpenApiAuthenticationExtension):
    target_class = "console.api.authentication.TeamTokenAuthentication"
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Token <token>`",
        }
