// tests/idp/server.mjs - a real OpenID provider for ocigate's end-to-end tests.
//
//   node server.mjs --port PORT --state FILE [--log FILE] [--host 127.0.0.1]
//                   [--redirect-uri URI]... [--post-logout-uri URI]...
//                   [--id-token-claims] [--client-auth basic|post]
//                   [--job-claims JSON]
//   (or IDP_PORT / IDP_STATE / IDP_LOG in the environment)
//
// It runs oidc-provider (https://github.com/panva/node-oidc-provider) on
// http://127.0.0.1:PORT with the issuer exactly "http://127.0.0.1:PORT" (no
// trailing slash). PORT 0 picks a free port; the state file says which.
// Everything is in memory and made at start: the RS256 (RSA 2048) and ES256
// (P-256) signing keys published at jwks_uri, the client secrets, the cookie
// keys. Nothing secret is printed; the client secrets go only into the state
// file (mode 0600), written atomically once the server listens, so its
// presence is the ready signal (a line "ready" is also printed on stdout).
//
// Tokens come from the client credentials grant at the token endpoint (see
// token.sh). Access tokens are JWTs (resource indicators, RFC 8707 + RFC 9068),
// chosen by the `resource` parameter:
//
//   urn:ocigate:registry          aud "registry", RS256, typ "at+jwt" (the default)
//   urn:ocigate:registry-es256    aud "registry", ES256, typ "at+jwt"
//   urn:ocigate:registry-typjwt   aud "registry", RS256, header typ "JWT"
//                                 (an ID-token-style JWT, set through
//                                 formats.customizers.jwt; same provider key)
//   urn:ocigate:registry-short    aud "registry", RS256, expires after 1 s
//   urn:ocigate:other             aud "other" (a token for another service)
//
// Every access token carries iss, aud, exp, iat, jti, sub (= client id),
// client_id, and from extraTokenClaims the client's preferred_username and
// groups:
//
//   ci-bot     preferred_username "ci-bot",     groups ["artifact-workloads"]
//   admin-bot  preferred_username "oidc-admin", groups ["admins"]
//   plain-bot  preferred_username "plain-bot",  groups []
//
// --job-claims makes it a CI issuer as well: JSON {"CLIENT": {CLAIMS}, ...}
// adds one client-credentials client per key (secret generated, in the state
// file under clients.CLIENT like the others) whose access tokens carry CLAIMS
// (e.g. "repository", "ref", "workflow", as a CI job's ID token does) in
// place of preferred_username and groups, e.g.
//   --job-claims '{"job-main": {"repository": "eblume/blumeops",
//                               "ref": "refs/heads/main", "workflow": "release"}}'
// Without it nothing changes.
//
// Browser sign-in (authorization code flow, PKCE S256 required): the web
// client `registry-web` (client_secret_basic; its secret is generated at
// start and written to the state file) with the redirect URIs and
// post-logout redirect URIs given by --redirect-uri / --post-logout-uri
// (repeatable: the web server's port is known only at run time). People sign
// in on minimal pages of this server (/interaction/UID: a login form with
// #username, #password, #submit and #cancel, then a consent form with
// #allow and #deny: #cancel and #deny end the sign-in with
// error=access_denied). Their passwords are generated at start and written
// to the state file (accounts.NAME.password):
//
//   alice   preferred_username "alice", groups ["artifact-workloads"]
//   bob     preferred_username "bob",   groups []
//   admin   preferred_username "admin", groups ["admins"]
//
// Scopes openid profile email groups give sub, preferred_username/name,
// email/email_verified, groups. By default (oidc-provider's conformant
// behaviour) the ID token of the code flow carries only sub and the
// protocol claims, and the rest comes from the userinfo endpoint;
// --id-token-claims puts them in the ID token as well. --client-auth post
// makes every client authenticate with client_secret_post, the only method
// the discovery document then lists (default: client_secret_basic, with
// oidc-provider's usual list, client_secret_post included, in discovery). The end_session
// endpoint asks "Sign out?" (#logout-yes, #logout-no).
//
// SIGTERM/SIGINT stop it.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.IDP_PORT ?? '0' },
    host: { type: 'string', default: process.env.IDP_HOST ?? '127.0.0.1' },
    state: { type: 'string', default: process.env.IDP_STATE },
    log: { type: 'string', default: process.env.IDP_LOG },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'post-logout-uri': { type: 'string', multiple: true, default: [] },
    'id-token-claims': { type: 'boolean', default: false },
    'client-auth': { type: 'string', default: 'basic' },
    'job-claims': { type: 'string' },
  },
  allowPositionals: false,
});

if (!opts.state) {
  process.stderr.write('usage: node server.mjs --port PORT --state FILE [--log FILE]\n');
  process.exit(2);
}
if (!['basic', 'post'].includes(opts['client-auth'])) {
  process.stderr.write('server.mjs: --client-auth is basic or post\n');
  process.exit(2);
}
const AUTH_METHOD = `client_secret_${opts['client-auth']}`;
const port = Number.parseInt(opts.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`server.mjs: bad port "${opts.port}"\n`);
  process.exit(2);
}
if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host)) {
  process.stderr.write('server.mjs: refusing to listen on a non-loopback address\n');
  process.exit(2);
}

const logStream = opts.log ? fs.createWriteStream(opts.log, { flags: 'a' }) : process.stderr;
function log(msg, fields = {}) {
  logStream.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

// --- identities -----------------------------------------------------------

const IDENTITIES = {
  'ci-bot': { preferred_username: 'ci-bot', groups: ['artifact-workloads'] },
  'admin-bot': { preferred_username: 'oidc-admin', groups: ['admins'] },
  'plain-bot': { preferred_username: 'plain-bot', groups: [] },
};

// CI jobs (--job-claims): client id -> the claims its tokens carry
const PROTOCOL_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope'];
let JOBS = {};
if (opts['job-claims']) {
  try {
    JOBS = JSON.parse(opts['job-claims']);
  } catch (err) {
    process.stderr.write(`server.mjs: --job-claims is not JSON: ${err.message}\n`);
    process.exit(2);
  }
  const bad = (JOBS === null || typeof JOBS !== 'object' || Array.isArray(JOBS))
    ? 'must be an object'
    : Object.entries(JOBS).map(([id, c]) => {
      if (IDENTITIES[id] || id === 'registry-web') return `client ${id} exists already`;
      if (c === null || typeof c !== 'object' || Array.isArray(c)) return `${id}: claims must be an object`;
      const p = Object.keys(c).find((k) => PROTOCOL_CLAIMS.includes(k));
      return p ? `${id}: ${p} is set by the provider` : '';
    }).find((m) => m);
  if (bad) {
    process.stderr.write(`server.mjs: --job-claims: ${bad}\n`);
    process.exit(2);
  }
  for (const [id, c] of Object.entries(JOBS)) IDENTITIES[id] = { ...c };
}

const secrets = Object.fromEntries(
  Object.keys(IDENTITIES).map((id) => [id, crypto.randomBytes(24).toString('base64url')]),
);

const clients = Object.keys(IDENTITIES).map((clientId) => ({
  client_id: clientId,
  client_secret: secrets[clientId],
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: AUTH_METHOD,
}));

// --- people (browser sign-in) ------------------------------------------------

const ACCOUNTS = {
  alice: { preferred_username: 'alice', name: 'Alice', groups: ['artifact-workloads'] },
  bob: { preferred_username: 'bob', name: 'Bob', groups: [] },
  admin: { preferred_username: 'admin', name: 'Admin', groups: ['admins'] },
};
const passwords = Object.fromEntries(
  Object.keys(ACCOUNTS).map((a) => [a, crypto.randomBytes(12).toString('base64url')]),
);
const WEB_CLIENT = 'registry-web';
const webSecret = crypto.randomBytes(24).toString('base64url');
clients.push({
  client_id: WEB_CLIENT,
  client_secret: webSecret,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: opts['redirect-uri'],
  post_logout_redirect_uris: opts['post-logout-uri'],
  token_endpoint_auth_method: AUTH_METHOD,
});

async function findAccount(_ctx, sub) {
  const who = ACCOUNTS[sub];
  if (!who) return undefined;
  return {
    accountId: sub,
    claims: async () => ({
      sub,
      preferred_username: who.preferred_username,
      name: who.name,
      email: `${sub}@example.org`,
      email_verified: true,
      groups: [...who.groups],
    }),
  };
}

function htmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pageHtml(title, inner) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${htmlEscape(title)}</title></head>`
    + `<body><main><h1>${htmlEscape(title)}</h1>${inner}</main></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16384) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

// The login and consent pages (oidc-provider's interaction API).
async function interaction(provider, req, res) {
  const url = new URL(req.url, 'http://x');
  const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/);
  if (!m) return false;
  const [, uid, action] = m;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const send = (status, html) => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(html);
  };
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') {
      send(200, pageHtml('Sign in to the test IdP', `
<form id="login" method="post" action="/interaction/${uid}/login">
<label>Username <input id="username" name="username" autocomplete="username" autofocus></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in</button></form>
<form method="post" action="/interaction/${uid}/abort"><button id="cancel" type="submit">Cancel</button></form>`));
    } else {
      send(200, pageHtml('Allow access?', `
<p>${htmlEscape(details.params.client_id)} asks for: ${htmlEscape(details.params.scope ?? '')}</p>
<form method="post" action="/interaction/${uid}/confirm"><button id="allow" type="submit">Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button id="deny" type="submit">Deny</button></form>`));
    }
    return true;
  }
  if (req.method !== 'POST') return false;
  const form = await readForm(req);
  if (action === 'login') {
    const who = form.username;
    if (!ACCOUNTS[who] || passwords[who] !== form.password) {
      log('interactive login refused', { user: String(who ?? '') });
      send(401, pageHtml('Sign in to the test IdP', `<p id="error">Wrong username or password.</p>
<p><a href="/interaction/${uid}">Try again</a></p>`));
      return true;
    }
    log('interactive login', { user: who });
    await provider.interactionFinished(req, res, { login: { accountId: who } },
      { mergeWithLastSubmission: false });
    return true;
  }
  if (action === 'confirm') {
    const { prompt: { details: missing }, params, session, grantId } = details;
    const grant = grantId ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const saved = await grant.save();
    log('consent given', { user: session.accountId });
    await provider.interactionFinished(req, res, { consent: grantId ? {} : { grantId: saved } },
      { mergeWithLastSubmission: true });
    return true;
  }
  log('interaction aborted', { prompt: details.prompt.name });
  await provider.interactionFinished(req, res, {
    error: 'access_denied', error_description: 'End-User aborted interaction',
  }, { mergeWithLastSubmission: false });
  return true;
}

// --- resource servers (what the access token looks like) -------------------

const RESOURCES = {
  'urn:ocigate:registry': { audience: 'registry', alg: 'RS256', ttl: 300 },
  'urn:ocigate:registry-es256': { audience: 'registry', alg: 'ES256', ttl: 300 },
  'urn:ocigate:registry-typjwt': { audience: 'registry', alg: 'RS256', ttl: 300, typ: 'JWT' },
  'urn:ocigate:registry-short': { audience: 'registry', alg: 'RS256', ttl: 1 },
  'urn:ocigate:other': { audience: 'other', alg: 'RS256', ttl: 300 },
};
const DEFAULT_RESOURCE = 'urn:ocigate:registry';

// --- signing keys ----------------------------------------------------------

// Key generation was seen to stall for over 30 s now and then (about one
// start in 20 on the 2-core test machine, always at this step): each key is
// made in the thread pool with a deadline, and made again when it passes.
function generate(type, options) {
  return new Promise((resolve, reject) => {
    crypto.generateKeyPair(type, options, (err, _pub, priv) => (err ? reject(err) : resolve(priv)));
  });
}

async function signingJwk(type, options, alg) {
  let privateKey = null;
  for (let attempt = 1; !privateKey; attempt++) {
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 3000); });
    privateKey = await Promise.race([generate(type, options), late]);
    clearTimeout(timer);
    if (!privateKey) log('key generation is slow: starting it again', { type, attempt });
  }
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  // RFC 7638 thumbprint as kid.
  const members = type === 'rsa'
    ? { e: pub.e, kty: pub.kty, n: pub.n }
    : { crv: pub.crv, kty: pub.kty, x: pub.x, y: pub.y };
  const kid = crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
  return { ...jwk, kid, alg, use: 'sig' };
}

const jwks = {
  keys: [
    await signingJwk('rsa', { modulusLength: 2048 }, 'RS256'),
    await signingJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

// --- the provider ----------------------------------------------------------

// Listen first (so PORT 0 works), then build the provider with the real port.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end('starting\n');
};
const server = http.createServer((req, res) => handler(req, res));

server.on('error', (err) => {
  log('listen failed', { error: err.message });
  process.stderr.write(`server.mjs: ${err.message}\n`);
  process.exit(1);
});

server.listen(port, opts.host, () => {
  const actualPort = server.address().port;
  const hostPart = opts.host === '::1' ? '[::1]' : opts.host;
  const issuer = `http://${hostPart}:${actualPort}`;

  const configuration = {
    clients,
    jwks,
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    conformIdTokenClaims: !opts['id-token-claims'],
    // post: the only method listed; basic: oidc-provider's list (post included)
    ...(opts['client-auth'] === 'post' ? { clientAuthMethods: [AUTH_METHOD] } : {}),
    pkce: { required: () => true },
    interactions: { url: async (_ctx, i) => `/interaction/${i.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = pageHtml('Sign out of the test IdP?', `${form}
<button id="logout-yes" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No</button>`);
        },
      },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // the web client's access token is for userinfo (opaque), not the registry
        defaultResource: async (_ctx, client, oneOf) => (
          client?.clientId === WEB_CLIENT ? oneOf : (oneOf ?? DEFAULT_RESOURCE)),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          const rs = RESOURCES[resourceIndicator];
          if (!rs) throw new errors.InvalidTarget();
          return {
            scope: 'registry',
            audience: rs.audience,
            accessTokenTTL: rs.ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: rs.alg } },
          };
        },
      },
    },
    extraTokenClaims: async (_ctx, token) => {
      const who = IDENTITIES[token.clientId];
      if (!who) return undefined;
      if (JOBS[token.clientId]) return structuredClone(JOBS[token.clientId]);
      return { preferred_username: who.preferred_username, groups: [...who.groups] };
    },
    formats: {
      customizers: {
        // An ID-token-style header (typ "JWT" instead of RFC 9068's "at+jwt")
        // for one resource; the token is still signed by the provider's key.
        jwt: async (_ctx, token, jwt) => {
          const rs = RESOURCES[token.resourceServer?.identifier()];
          if (rs?.typ) jwt.header = { ...(jwt.header ?? {}), typ: rs.typ };
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, err) => log('server_error', { error: String(err?.stack ?? err) }));
  provider.on('grant.error', (_ctx, err) => log('grant.error', { error: err.message, detail: err.error_description }));
  provider.on('grant.success', (ctx) => log('grant.success', { client: ctx.oidc.client?.clientId }));

  const callback = provider.callback();
  handler = (req, res) => {
    const reqPath = (req.url ?? '').split('?')[0];
    // how a client authenticated at the token endpoint (oidc-provider itself
    // takes either secret method from any client)
    const clientAuth = reqPath === '/token'
      ? (/^basic /i.test(req.headers.authorization ?? '') ? 'basic' : 'body') : undefined;
    res.on('finish', () => log('request', {
      method: req.method, path: reqPath, status: res.statusCode, client_auth: clientAuth,
    }));
    if (clientAuth === 'basic' && AUTH_METHOD === 'client_secret_post') {
      // an issuer that supports only client_secret_post refuses Basic
      res.statusCode = 401;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ error: 'invalid_client', error_description: 'client_secret_post only' }));
      return;
    }
    interaction(provider, req, res).then((done) => {
      if (!done) callback(req, res);
    }).catch((err) => {
      log('interaction failed', { error: String(err?.message ?? err) });
      if (!res.headersSent) {
        res.statusCode = 400;
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(pageHtml('Sign-in failed at the test IdP', '<p id="error">This sign-in expired or is unknown.</p>'));
      }
    });
  };

  const state = {
    issuer,
    port: actualPort,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    resources: Object.fromEntries(Object.entries(RESOURCES).map(([k, v]) => [k, v.audience])),
    clients: Object.fromEntries(Object.keys(IDENTITIES).map((id) => [id, { secret: secrets[id], ...IDENTITIES[id] }])),
    web_client: { id: WEB_CLIENT, secret: webSecret },
    accounts: Object.fromEntries(Object.keys(ACCOUNTS).map((a) => [a, { password: passwords[a], ...ACCOUNTS[a] }])),
    pid: process.pid,
  };
  const tmp = path.join(path.dirname(opts.state), `.${path.basename(opts.state)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, opts.state);
  log('ready', { issuer });
  process.stdout.write('ready\n');
});

function stop(sig) {
  log('stopping', { signal: sig });
  server.close();
  server.closeAllConnections?.();
  try { fs.unlinkSync(opts.state); } catch { /* gone already */ }
  setTimeout(() => process.exit(0), 100).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
