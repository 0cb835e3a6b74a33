// tests/idp/server.mjs - a real OpenID provider for ocigate's end-to-end tests.
//
//   node server.mjs --port PORT --state FILE [--log FILE] [--host 127.0.0.1]
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
  },
  allowPositionals: false,
});

if (!opts.state) {
  process.stderr.write('usage: node server.mjs --port PORT --state FILE [--log FILE]\n');
  process.exit(2);
}
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

const secrets = Object.fromEntries(
  Object.keys(IDENTITIES).map((id) => [id, crypto.randomBytes(24).toString('base64url')]),
);

const clients = Object.keys(IDENTITIES).map((clientId) => ({
  client_id: clientId,
  client_secret: secrets[clientId],
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
}));

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

function signingJwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
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
    signingJwk('rsa', { modulusLength: 2048 }, 'RS256'),
    signingJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
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
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? DEFAULT_RESOURCE,
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
    res.on('finish', () => log('request', {
      method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode,
    }));
    callback(req, res);
  };

  const state = {
    issuer,
    port: actualPort,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    resources: Object.fromEntries(Object.entries(RESOURCES).map(([k, v]) => [k, v.audience])),
    clients: Object.fromEntries(Object.keys(IDENTITIES).map((id) => [id, { secret: secrets[id], ...IDENTITIES[id] }])),
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
