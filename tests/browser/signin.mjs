// tests/browser/signin.mjs - one browser sign-in scenario against ocigate
// behind a web server and the test IdP; prints what it saw as one JSON
// object on stdout (tests/e2e/browser_signin.sh checks it). Never prints a
// cookie value, code or password.
//
//   node signin.mjs --base URL --idp-state FILE --step STEP [--user alice]
//                   [--screenshot FILE]
//
// Steps:
//   signin    sign in; report the authorization request's parameters (no
//             values of state/nonce/challenge, only their shape), the
//             Set-Cookie flags of the login and callback answers, the
//             cookies the browser keeps, where endpoints.login goes once
//             signed in; then sign out through endpoints.logout (the IdP's
//             "Sign out?" answered yes) and report the cookies left.
//   deny      sign in but press Deny on the IdP's consent page.
//   cancel    press Cancel on the IdP's login page.
//   mismatch  start a sign-in, then come back to the callback with another state.
//   expired   come to the callback without having started a sign-in here.

import { parseArgs } from 'node:util';

import {
  DEFAULT_PATHS, idpLogin, idpState, launch, ocigateCookies, signIn, waitForPrefix,
} from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    base: { type: 'string' },
    'idp-state': { type: 'string' },
    step: { type: 'string' },
    user: { type: 'string', default: 'alice' },
    screenshot: { type: 'string' },
  },
});
const base = opts.base;
const idp = idpState(opts['idp-state']);
const paths = DEFAULT_PATHS;
const password = idp.accounts[opts.user]?.password;

function cookieFlags(setCookie) {
  // "name=value; Path=/x; Max-Age=1; HttpOnly; SameSite=Lax" -> flags, no value
  const [nv, ...attrs] = setCookie.split(';').map((s) => s.trim());
  const name = nv.split('=')[0];
  const flags = { name, empty: nv.length === name.length + 1 };
  for (const a of attrs) {
    const [k, v] = a.split('=');
    flags[k.toLowerCase()] = v ?? true;
  }
  return flags;
}

async function setCookies(response) {
  return (await response.headersArray())
    .filter((h) => h.name.toLowerCase() === 'set-cookie')
    .flatMap((h) => h.value.split('\n'))
    .map(cookieFlags);
}

function cookieView(c) {
  return c && {
    path: c.path, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite,
    session: c.expires === -1, lifetime: c.expires > 0 ? Math.round(c.expires - Date.now() / 1000) : null,
  };
}

async function pageError(page) {
  return {
    url_path: new URL(page.url()).pathname,
    title: await page.textContent('#error-title').catch(() => null),
    has_signin_link: (await page.$('#signin')) !== null,
  };
}

async function stepSignin(browser) {
  const out = {};
  const context = await browser.newContext();
  const seen = { auth: null, login: [], callback: [], logout: [], endSession: false, callbackStatus: null };
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (r.isNavigationRequest() && u.href.startsWith(`${idp.issuer}/auth`) && !seen.auth) seen.auth = u;
    if (u.href.startsWith(`${idp.issuer}/session/end`)) seen.endSession = true;
  });
  const pending = [];
  context.on('response', (r) => {
    const u = new URL(r.url());
    if (u.href === base + paths.login) {
      pending.push(setCookies(r).then((c) => seen.login.push(...c)));
    }
    if (u.href.startsWith(base + paths.callback)) {
      pending.push(setCookies(r).then((c) => seen.callback.push(...c)));
      seen.callbackStatus = r.status();
      seen.callbackLocation = r.headers().location ?? null;
    }
    if (u.href.startsWith(base + paths.logout)) {
      pending.push(setCookies(r).then((c) => seen.logout.push(...c)));
      seen.logoutLocation = (r.headers().location ?? '').split('?')[0];
    }
  });
  const { page } = await signIn(browser, { base, user: opts.user, password, context });
  await Promise.all(pending);
  const q = seen.auth?.searchParams;
  out.authorization = q && {
    endpoint: `${seen.auth.origin}${seen.auth.pathname}`,
    response_type: q.get('response_type'),
    client_id: q.get('client_id'),
    redirect_uri: q.get('redirect_uri'),
    scope: q.get('scope'),
    state_len: (q.get('state') ?? '').length,
    nonce_len: (q.get('nonce') ?? '').length,
    code_challenge_len: (q.get('code_challenge') ?? '').length,
    code_challenge_method: q.get('code_challenge_method'),
  };
  out.login_set_cookie = seen.login;
  out.callback_status = seen.callbackStatus;
  out.callback_location = seen.callbackLocation;
  out.callback_set_cookie = seen.callback;
  out.landed = new URL(page.url()).pathname;
  const jar = await ocigateCookies(context, base);
  out.cookies = Object.fromEntries(Object.entries(jar).map(([k, v]) => [k, cookieView(v)]));
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });

  // endpoints.login once signed in: straight back to the key page
  const again = await page.goto(base + paths.login, { timeout: 15000 });
  out.login_again = { path: new URL(page.url()).pathname, status: again?.status() ?? null,
    via_idp: !page.url().startsWith(base) };

  // sign out: the IdP asks "Sign out?", yes, back to the key page
  await page.goto(base + paths.logout, { timeout: 15000 });
  if (!page.url().startsWith(base)) {
    await page.waitForSelector('#logout-yes', { timeout: 15000 });
    await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('#logout-yes')]);
    await waitForPrefix(page, base + paths.keys);
  }
  out.logout = {
    set_cookie: seen.logout, location: seen.logoutLocation ?? null,
    through_end_session: seen.endSession, landed: new URL(page.url()).pathname,
  };
  await Promise.all(pending);
  const after = await ocigateCookies(context, base);
  out.cookies_after_logout = Object.keys(after);
  // and endpoints.login now goes to the IdP again
  await page.goto(base + paths.login, { timeout: 15000 });
  out.login_after_logout_via_idp = !page.url().startsWith(base);
  return out;
}

async function stepDeny(browser, button) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let status = null;
  context.on('response', (r) => {
    if (r.url().startsWith(base + paths.callback)) status = r.status();
  });
  await page.goto(base + paths.login, { timeout: 15000 });
  if (button === '#deny') {
    await idpLogin(page, opts.user, password);
    await page.waitForSelector('#deny', { timeout: 15000 });
  }
  await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click(button)]);
  await waitForPrefix(page, base + paths.callback);
  await page.waitForLoadState('load');
  const jar = await ocigateCookies(context, base);
  return { status, ...(await pageError(page)), cookies: Object.keys(jar) };
}

async function stepMismatch(browser, withLogin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (withLogin) {
    await page.goto(base + paths.login, { timeout: 15000 });
    await page.waitForSelector('#username', { timeout: 15000 });
  }
  const r = await page.goto(`${base}${paths.callback}?code=not-a-code&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    { timeout: 15000 });
  const jar = await ocigateCookies(context, base);
  return { status: r.status(), csp: r.headers()['content-security-policy'] ?? null,
    xfo: r.headers()['x-frame-options'] ?? null, content_type: r.headers()['content-type'] ?? null,
    ...(await pageError(page)), cookies: Object.keys(jar) };
}

const browser = await launch();
let result;
try {
  switch (opts.step) {
    case 'signin': result = await stepSignin(browser); break;
    case 'deny': result = await stepDeny(browser, '#deny'); break;
    case 'cancel': result = await stepDeny(browser, '#cancel'); break;
    case 'mismatch': result = await stepMismatch(browser, true); break;
    case 'expired': result = await stepMismatch(browser, false); break;
    default: throw new Error(`unknown step ${opts.step}`);
  }
} catch (err) {
  result = { error: String(err?.message ?? err).split('\n')[0] };
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
