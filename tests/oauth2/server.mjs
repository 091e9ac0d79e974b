// The OAuth2 authorization server of crmsync's tests (started by tests/src/oauth.rs).
//
// oauth2-mock-server signs the tokens (its issuer, key store and
// beforeTokenSigning hook) and serves /jwks and /userinfo. What it lacks for
// crmsync's tests is added here, in front of it:
//   - a token endpoint that remembers what it issued: refresh tokens can be
//     revoked (then `400 {"error":"invalid_grant"}`), unknown ones are refused;
//     the authorization-code grant checks the PKCE code_verifier; the device
//     grant (RFC 8628) answers authorization_pending / slow_down /
//     expired_token / access_denied; client_credentials checks the client;
//   - /authorize, the browser's page: signs in as `login_hint` (or the user
//     set with /test/config) and redirects to the client's redirect_uri with
//     code and state;
//   - /device, the device authorization endpoint;
//   - /introspect reading Dovecot's form-encoded POST and answering
//     `200 {"active": false}` for a bad token (Dovecot 2.3 treats any non-200
//     as a temporary failure);
//   - /revoke (RFC 7009) and /test/* for the test to drive the server;
//   - for Graph scopes (https://graph.microsoft.com/...), Microsoft's claims:
//     `aud` Graph, delegated permissions in `scp`, app-only ones in `roles`.
//
// Usage: node server.mjs --port PORT --keys-dir DIR --id ID
// Writes the issuer's public key as PEM to DIR/default/RS256/<kid> (Dovecot's
// local validation key dict) and prints "crmsync-oauth2 ID listening on
// 127.0.0.1:PORT" once it accepts connections.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const KID = 'crmsync-test-key';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const port = Number(arg('port', '0'));
const keysDir = arg('keys-dir', null);
const id = arg('id', 'oauth2');
const host = '127.0.0.1';

const issuer = new OAuth2Issuer();
const service = new OAuth2Service(issuer);
const jwk = await issuer.keys.generate('RS256', { kid: KID });

// Every token gets its claims here: the request carries what to set.
service.on('beforeTokenSigning', (token, req) => {
  const claims = req && req.crmsync;
  if (!claims) return;
  token.header.kid = KID;
  Object.assign(token.payload, claims);
});

const config = {
  access_ttl: 3600, // seconds an access token from the token endpoint lives
  rotate_refresh: false, // a refresh grant hands out a new refresh token
  pad_bytes: 0, // size of a `pad` claim, to make real-size (long) tokens
  default_email: null, // who signs in at /authorize without login_hint
  device_interval: 1, // seconds between device-grant polls
  device_expires_in: 300, // lifetime of a device code
  slow_down: 0, // answer this many device polls with slow_down
  require_pkce: true, // /authorize without an S256 code_challenge is refused
};

const access = new Map(); // access token -> { email, scope, exp, revoked }
const refresh = new Map(); // refresh token -> { email, scope, client_id, revoked }
const codes = new Map(); // code -> { email, scope, client_id, redirect_uri, challenge, used }
const devices = new Map(); // device_code -> { user_code, scope, client_id, expires, approved, denied, last_poll, interval }
const clients = new Map(); // client_id -> { secret, email }
const stats = { token_requests: 0, by_grant: {}, introspections: 0, authorizations: 0 };

const now = () => Math.floor(Date.now() / 1000);
const random = (n) => crypto.randomBytes(n).toString('base64url');

const GRAPH = 'https://graph.microsoft.com';

/**
 * The claims Microsoft puts in a token for Graph: `aud` is Graph; a user's
 * token lists its delegated permissions in `scp` (the scope names without
 * the resource prefix); an app-only token (`.default`, client credentials)
 * lists the application permissions its client was granted in `roles`.
 * Nothing for a token without Graph scopes.
 */
function graphClaims(scope, roles, clientId) {
  const names = String(scope || '').split(/\s+/).filter((s) => s.startsWith(`${GRAPH}/`));
  if (!names.length) return {};
  const perms = names.map((s) => s.slice(GRAPH.length + 1)).filter((s) => s !== '.default');
  if (roles) return { aud: GRAPH, roles, idtyp: 'app', azp: clientId, sub: clientId };
  return { aud: GRAPH, scp: perms.join(' ') };
}

/** Signs an access token for `email` with `scope`, living `expiresIn` seconds (negative: already expired). */
async function mint(email, scope, expiresIn, padBytes, roles, clientId) {
  const t = now();
  const claims = { email, scope, sub: email || 'app', jti: random(12) };
  Object.assign(claims, graphClaims(scope, roles, clientId));
  if (expiresIn <= 0) {
    // Expired: iat and nbf in the past too, so only `exp` says why.
    claims.iat = t + expiresIn - 3600;
    claims.nbf = claims.iat - 10;
    claims.exp = t + expiresIn;
  }
  const pad = padBytes ?? config.pad_bytes;
  if (pad > 0) claims.pad = 'p'.repeat(pad);
  const token = await service.buildToken({ crmsync: claims }, expiresIn > 0 ? expiresIn : 3600);
  access.set(token, { email, scope, exp: t + expiresIn, revoked: false });
  return token;
}

async function idToken(email, clientId) {
  return service.buildToken({ crmsync: { email, sub: email, aud: clientId || 'crmsync' } }, 3600);
}

/** The token response of a user grant: access, refresh and id token. */
async function userTokens(email, scope, clientId, oldRefresh) {
  let refreshToken = oldRefresh;
  if (!refreshToken || config.rotate_refresh) {
    if (oldRefresh) refresh.get(oldRefresh).revoked = true;
    refreshToken = random(32);
    refresh.set(refreshToken, { email, scope, client_id: clientId, revoked: false });
  }
  return {
    access_token: await mint(email, scope, config.access_ttl),
    token_type: 'Bearer',
    expires_in: config.access_ttl,
    scope,
    refresh_token: refreshToken,
    id_token: await idToken(email, clientId),
  };
}

function send(res, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  });
  res.end(text);
}

const oauthError = (res, status, error, description) =>
  send(res, status, description ? { error, error_description: description } : { error });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Form-encoded or JSON body as a plain object. */
function parseBody(req, text) {
  const type = (req.headers['content-type'] || '').toLowerCase();
  if (type.includes('application/json')) return text ? JSON.parse(text) : {};
  return Object.fromEntries(new URLSearchParams(text));
}

/** client_id and client_secret from HTTP Basic or the form. */
function clientOf(req, form) {
  const auth = req.headers.authorization || '';
  if (auth.toLowerCase().startsWith('basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
    return { id: decodeURIComponent(id), secret: decodeURIComponent(secret ?? '') };
  }
  return { id: form.client_id, secret: form.client_secret };
}

/** False (and the answer sent) when a registered client gave a wrong secret. */
function clientOk(res, client) {
  const known = clients.get(client.id);
  if (known && known.secret && known.secret !== client.secret) {
    oauthError(res, 401, 'invalid_client', 'client authentication failed');
    return false;
  }
  return true;
}

async function token(req, res, form) {
  stats.token_requests += 1;
  const grant = form.grant_type || '';
  stats.by_grant[grant] = (stats.by_grant[grant] || 0) + 1;
  const client = clientOf(req, form);
  if (!clientOk(res, client)) return;
  switch (grant) {
    case 'authorization_code': {
      const c = codes.get(form.code);
      if (!c || c.used) return oauthError(res, 400, 'invalid_grant', 'unknown or used code');
      c.used = true;
      if (form.redirect_uri !== c.redirect_uri) {
        return oauthError(res, 400, 'invalid_grant', 'redirect_uri does not match');
      }
      if (c.challenge) {
        const verifier = form.code_verifier || '';
        const digest = crypto.createHash('sha256').update(verifier).digest('base64url');
        if (digest !== c.challenge) {
          return oauthError(res, 400, 'invalid_grant', 'code_verifier does not match code_challenge');
        }
      }
      return send(res, 200, await userTokens(c.email, form.scope || c.scope, client.id));
    }
    case 'refresh_token': {
      const r = refresh.get(form.refresh_token);
      if (!r || r.revoked) return oauthError(res, 400, 'invalid_grant', 'the refresh token is revoked or unknown');
      return send(res, 200, await userTokens(r.email, r.scope, client.id, form.refresh_token));
    }
    case 'urn:ietf:params:oauth:grant-type:device_code': {
      const d = devices.get(form.device_code);
      if (!d) return oauthError(res, 400, 'invalid_grant', 'unknown device_code');
      if (now() >= d.expires) return oauthError(res, 400, 'expired_token');
      if (d.denied) return oauthError(res, 400, 'access_denied');
      const t = Date.now();
      const early = d.last_poll !== null && t - d.last_poll < d.interval * 1000 - 200;
      d.last_poll = t;
      if (config.slow_down > 0 || (early && !d.approved)) {
        if (config.slow_down > 0) config.slow_down -= 1;
        d.interval += 5;
        return oauthError(res, 400, 'slow_down');
      }
      if (!d.approved) return oauthError(res, 400, 'authorization_pending');
      devices.delete(form.device_code);
      return send(res, 200, await userTokens(d.approved, d.scope, client.id));
    }
    case 'client_credentials': {
      const known = clients.get(client.id);
      if (!known) return oauthError(res, 401, 'invalid_client', 'unknown client');
      const scope = form.scope || '';
      return send(res, 200, {
        access_token: await mint(known.email, scope, config.access_ttl, undefined, known.roles || [], client.id),
        token_type: 'Bearer',
        expires_in: config.access_ttl,
        scope,
      });
    }
    default:
      return oauthError(res, 400, 'unsupported_grant_type');
  }
}

function authorize(req, res, url) {
  stats.authorizations += 1;
  const q = url.searchParams;
  const redirect = q.get('redirect_uri');
  if (!redirect) return oauthError(res, 400, 'invalid_request', 'redirect_uri missing');
  const to = new URL(redirect);
  const state = q.get('state');
  const fail = (error) => {
    to.searchParams.set('error', error);
    if (state) to.searchParams.set('state', state);
    res.writeHead(302, { Location: to.href });
    res.end();
  };
  if (q.get('response_type') !== 'code') return fail('unsupported_response_type');
  const challenge = q.get('code_challenge');
  if (config.require_pkce && (!challenge || q.get('code_challenge_method') !== 'S256')) {
    return fail('invalid_request');
  }
  const email = q.get('login_hint') || config.default_email;
  if (!email) return fail('access_denied');
  const code = random(24);
  codes.set(code, {
    email,
    scope: q.get('scope') || '',
    client_id: q.get('client_id'),
    redirect_uri: redirect,
    challenge,
    used: false,
  });
  to.searchParams.set('code', code);
  if (state) to.searchParams.set('state', state);
  res.writeHead(302, { Location: to.href });
  res.end();
}

function device(req, res, form) {
  const client = clientOf(req, form);
  const deviceCode = random(32);
  const userCode = `${crypto.randomBytes(2).toString('hex')}-${crypto.randomBytes(2).toString('hex')}`.toUpperCase();
  devices.set(deviceCode, {
    user_code: userCode,
    scope: form.scope || '',
    client_id: client.id,
    expires: now() + config.device_expires_in,
    approved: null,
    denied: false,
    last_poll: null,
    interval: config.device_interval,
  });
  const verification = `${issuer.url}/device/verify`;
  send(res, 200, {
    device_code: deviceCode,
    user_code: userCode,
    verification_uri: verification,
    verification_uri_complete: `${verification}?user_code=${userCode}`,
    expires_in: config.device_expires_in,
    interval: config.device_interval,
  });
}

function introspect(res, form) {
  stats.introspections += 1;
  const a = access.get(form.token);
  if (!a || a.revoked || a.exp <= now()) return send(res, 200, { active: false });
  send(res, 200, { active: true, email: a.email, scope: a.scope, exp: a.exp, token_type: 'Bearer' });
}

function findDevice(userCode) {
  for (const d of devices.values()) if (d.user_code === userCode) return d;
  return null;
}

async function control(res, route, body) {
  switch (route) {
    case '/test/issue': {
      const email = body.email;
      const scope = body.scope ?? 'mail';
      const expiresIn = body.expires_in ?? 3600;
      const accessToken = await mint(email, scope, expiresIn, body.pad_bytes);
      const refreshToken = random(32);
      refresh.set(refreshToken, { email, scope, client_id: body.client_id || null, revoked: false });
      return send(res, 200, { access_token: accessToken, refresh_token: refreshToken });
    }
    case '/test/revoke': {
      const r = refresh.get(body.refresh_token);
      if (r) r.revoked = true;
      const a = access.get(body.access_token);
      if (a) a.revoked = true;
      // Every token of a user (an admin revoking their sign-in sessions).
      let n = 0;
      if (body.email) {
        for (const m of [refresh, access]) {
          for (const t of m.values()) if (t.email === body.email && !t.revoked) { t.revoked = true; n++; }
        }
      }
      return send(res, 200, { revoked: Boolean(r || a || n) });
    }
    case '/test/approve': {
      const d = findDevice(body.user_code);
      if (!d) return send(res, 404, { error: 'unknown user_code' });
      d.approved = body.email;
      return send(res, 200, {});
    }
    case '/test/deny': {
      const d = findDevice(body.user_code);
      if (!d) return send(res, 404, { error: 'unknown user_code' });
      d.denied = true;
      return send(res, 200, {});
    }
    case '/test/expire-device': {
      const d = findDevice(body.user_code);
      if (!d) return send(res, 404, { error: 'unknown user_code' });
      d.expires = 0;
      return send(res, 200, {});
    }
    case '/test/client': {
      clients.set(body.client_id, {
        secret: body.client_secret ?? null,
        email: body.email ?? null,
        roles: body.roles ?? null, // Graph application permissions an admin granted
      });
      return send(res, 200, {});
    }
    case '/test/config': {
      for (const [k, v] of Object.entries(body)) {
        if (!(k in config)) return send(res, 400, { error: `unknown setting ${k}` });
        config[k] = v;
      }
      return send(res, 200, config);
    }
    case '/test/stats':
      return send(res, 200, stats);
    default:
      return send(res, 404, { error: `no test route ${route}` });
  }
}

function openidConfiguration(res) {
  const base = issuer.url;
  send(res, 200, {
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    device_authorization_endpoint: `${base}/device`,
    introspection_endpoint: `${base}/introspect`,
    revocation_endpoint: `${base}/revoke`,
    userinfo_endpoint: `${base}/userinfo`,
    jwks_uri: `${base}/jwks`,
    response_types_supported: ['code'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    id_token_signing_alg_values_supported: ['RS256'],
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer.url);
    const route = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method === 'GET' && route === '/.well-known/openid-configuration') return openidConfiguration(res);
    if (req.method === 'GET' && route === '/authorize') return authorize(req, res, url);
    if (req.method === 'POST') {
      const known = ['/token', '/device', '/introspect', '/revoke'];
      if (known.includes(route) || route.startsWith('/test/')) {
        const body = parseBody(req, await readBody(req));
        if (route === '/token') return await token(req, res, body);
        if (route === '/device') return device(req, res, body);
        if (route === '/introspect') return introspect(res, body);
        if (route === '/revoke') {
          const r = refresh.get(body.token);
          if (r) r.revoked = true;
          const a = access.get(body.token);
          if (a) a.revoked = true;
          return send(res, 200);
        }
        return await control(res, route, body);
      }
    }
    // Everything else (/jwks, /userinfo, ...) is the mock's.
    return service.requestHandler(req, res);
  } catch (e) {
    console.error('request failed:', e);
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(e) });
  }
});

// Node closes idle keep-alive connections after 5 s, racing clients that
// reuse one a moment later (reqwest then fails with "IncompleteMessage").
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;

server.listen(port, host, () => {
  const actual = server.address().port;
  issuer.url = `http://${host}:${actual}`;
  if (keysDir) {
    const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const dir = path.join(keysDir, 'default', 'RS256');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, KID), pem, { mode: 0o644 });
  }
  console.log(`crmsync-oauth2 ${id} listening on ${host}:${actual}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
