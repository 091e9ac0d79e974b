"""Radicale auth plugin of the crmsync test harness: OAuth2 bearer tokens.

Radicale 3.1 accepts only HTTP Basic. This plugin (``[auth] type =
oauth_auth``, found through PYTHONPATH) also accepts ``Authorization: Bearer
<JWT>`` as Google's CalDAV/CardDAV does: the token must be an RS256 JWT signed
by the issuer's key, from that issuer, not expired, and (when a scope is
configured) carry that scope. The user is the local part of its ``email``
claim, as Dovecot's oauth2 passdb (``username_format = %Ln``) names it, so
``owner_only`` rights give the token its user's collections only.

An invalid or expired token is no login at all: Radicale answers 401. Basic
logins are checked against the htpasswd file as before, so a test sets up
collections with a password.

Configured through the environment (Radicale refuses unknown config options):
- CRMSYNC_OAUTH_ISSUER: the ``iss`` every token must carry;
- CRMSYNC_OAUTH_KEYS_DIR: where the issuer's public keys are, as PEM at
  ``default/RS256/<kid>`` (the layout Dovecot's local validation reads);
- CRMSYNC_OAUTH_SCOPE: a scope the token must have (optional).

Uses only PyJWT and cryptography, which Debian's python3-jwt brings.
"""

import os

import jwt

from radicale.auth import htpasswd
from radicale.log import logger


def _key(keys_dir, kid):
    if not kid or "/" in kid or kid.startswith("."):
        return None
    try:
        with open(os.path.join(keys_dir, "default", "RS256", kid), "rb") as f:
            return f.read()
    except OSError:
        return None


class Auth(htpasswd.Auth):
    def __init__(self, configuration):
        super().__init__(configuration)
        self._issuer = os.environ["CRMSYNC_OAUTH_ISSUER"]
        self._keys_dir = os.environ["CRMSYNC_OAUTH_KEYS_DIR"]
        self._scope = os.environ.get("CRMSYNC_OAUTH_SCOPE", "")

    def _user_of(self, token):
        """The user a valid token is for, else None (the reason is logged, never the token)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = _key(self._keys_dir, kid)
            if key is None:
                logger.warning("bearer token with an unknown key id")
                return None
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=self._issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.PyJWTError as e:
            logger.warning("bearer token refused: %s", type(e).__name__)
            return None
        if self._scope and self._scope not in str(claims.get("scope", "")).split():
            logger.warning("bearer token without the scope %r", self._scope)
            return None
        email = str(claims.get("email") or "")
        user = email.split("@", 1)[0].lower()
        return user or None

    def get_external_login(self, environ):
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization.startswith("Bearer "):
            return ()
        token = authorization[len("Bearer "):].strip()
        user = self._user_of(token)
        if user is None:
            # No login: Radicale answers 401 to the anonymous request.
            return ()
        return user, token

    def login(self, login, password):
        if password.count(".") == 2 and self._user_of(password) == login:
            return login
        return super().login(login, password)
