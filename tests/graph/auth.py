"""Bearer tokens of the Graph emulator: RS256 JWTs from the harness's OAuth2
server, checked like Graph checks Microsoft's (signature, issuer, expiry,
audience), and the permissions each operation needs."""

import os

import jwt

from common import GraphError

AUDIENCES = ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000']

# area -> (delegated permissions, application permissions) that allow it;
# the first of each is the least privileged one, named in a 403.
PERMISSIONS = {
    'mail': (['Mail.Read', 'Mail.ReadWrite'], ['Mail.Read', 'Mail.ReadWrite']),
    'mail-write': (['Mail.ReadWrite'], ['Mail.ReadWrite']),
    'mail-send': (['Mail.Send'], ['Mail.Send']),
    'calendars': (['Calendars.Read', 'Calendars.ReadWrite'], ['Calendars.Read', 'Calendars.ReadWrite']),
    'calendars-write': (['Calendars.ReadWrite'], ['Calendars.ReadWrite']),
    'contacts': (['Contacts.Read', 'Contacts.ReadWrite'], ['Contacts.Read', 'Contacts.ReadWrite']),
    'contacts-write': (['Contacts.ReadWrite'], ['Contacts.ReadWrite']),
    'tasks': (['Tasks.Read', 'Tasks.ReadWrite'], ['Tasks.Read.All', 'Tasks.ReadWrite.All']),
    'tasks-write': (['Tasks.ReadWrite'], ['Tasks.ReadWrite.All']),
    'me': (['User.Read', 'User.ReadWrite', 'User.ReadBasic.All', 'User.Read.All'], []),
    'users': (['User.ReadBasic.All', 'User.Read.All', 'Directory.Read.All'],
              ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All']),
}


def unauthorized(message):
    """401 InvalidAuthenticationToken."""
    return GraphError(401, 'InvalidAuthenticationToken', message,
                      {'WWW-Authenticate': 'Bearer realm="", error="invalid_token"'})


class Identity:
    """Who called: a user (delegated) or an application (app-only)."""

    def __init__(self, app, user, permissions, subject):
        self.app = app
        self.user = user  # address, delegated only
        self.permissions = permissions  # set of names
        self.subject = subject


class Verifier:
    """Checks tokens against the issuer's public keys (PEM at
    KEYS_DIR/default/RS256/<kid>, as the harness's OAuth2 server writes them)."""

    def __init__(self, issuer, keys_dir):
        self.issuer = issuer
        self.keys_dir = keys_dir

    def _key(self, kid):
        if not kid or '/' in kid or kid.startswith('.'):
            return None
        try:
            with open(os.path.join(self.keys_dir, 'default', 'RS256', kid), 'rb') as f:
                return f.read()
        except OSError:
            return None

    def identify(self, authorization):
        """The caller behind an Authorization header, or 401."""
        if not authorization:
            raise unauthorized('Access token is empty.')
        if not authorization.startswith('Bearer '):
            raise unauthorized('Access token has to be a Bearer token.')
        token = authorization[len('Bearer '):].strip()
        try:
            key = self._key(jwt.get_unverified_header(token).get('kid'))
            if key is None:
                raise unauthorized('Access token signed with an unknown key.')
            claims = jwt.decode(token, key=key, algorithms=['RS256'], issuer=self.issuer, audience=AUDIENCES,
                                options={'require': ['exp', 'iss', 'aud']})
        except jwt.ExpiredSignatureError:
            raise unauthorized('Lifetime validation failed, the token is expired.')
        except jwt.InvalidAudienceError:
            raise unauthorized('Invalid audience: the token is not for Microsoft Graph.')
        except jwt.PyJWTError as e:
            raise unauthorized('Access token validation failure (%s).' % type(e).__name__)
        roles = claims.get('roles')
        if isinstance(roles, list) and not claims.get('scp'):
            return Identity(True, None, {str(r) for r in roles}, str(claims.get('azp') or claims.get('sub')))
        user = str(claims.get('email') or claims.get('upn') or claims.get('preferred_username') or '').lower()
        if not user:
            raise unauthorized('The token names no user and carries no application roles.')
        return Identity(False, user, set(str(claims.get('scp', '')).split()), user)


def require(ident, area, revoked):
    """403 ErrorAccessDenied naming the permission when `ident` lacks every
    permission that allows `area` (or an admin revoked it)."""
    delegated, application = PERMISSIONS[area]
    accepted = application if ident.app else delegated
    have = {p.lower() for p in ident.permissions} - revoked
    if any(p.lower() in have for p in accepted):
        return
    kind = 'application' if ident.app else 'delegated'
    need = ' or '.join(accepted) if accepted else 'a delegated (user) token'
    raise GraphError(403, 'ErrorAccessDenied',
                     'Access is denied. Check credentials and try again. This request needs the %s permission %s.'
                     % (kind, need))
