// tests/browser/keys.mjs - the key page in headless Chromium, one step per
// run, against ocigate behind lighttpd and the test IdP (harness.mjs signs
// in). Prints what it saw as one JSON object on stdout; tests/e2e/key_page.sh
// checks it. Never prints a key, a cookie value or a password: a created key
// goes to --key-out (mode 0600), screenshots never show #new-key.
//
//   node keys.mjs --base URL --idp-state FILE --step STEP [--user alice]
//                 [--label L] [--repos R] [--expires E] [--key-out FILE]
//                 [--key-id ID] [--of USER] [--foreign URL]... [--shots DIR]
//
// Steps:
//   create   sign in, look at the page (ids, headers, cookie flags, keyboard,
//            360 px), screenshots (--shots) before creating; create a key
//            with the form; report its id and the login lines.
//   list     sign in, report the row of --key-id (label, scopes, last used),
//            revoke it with its .revoke button, report what is left.
//   revoke-all  sign in (an admin), revoke every key of --of with its button.
//   csrf     sign in, then: each --foreign page (another origin whose form
//            posts to the key page); POSTs with the session cookie but a
//            foreign Origin, without the token, with the token and the right
//            Origin (the one that works).
//   signout  sign in, press #signout: through the IdP's sign-out back to a
//            page that says so, with #signin.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { DEFAULT_PATHS, idpState, launch, ocigateCookies, signIn } from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    base: { type: 'string' },
    'idp-state': { type: 'string' },
    step: { type: 'string' },
    user: { type: 'string', default: 'alice' },
    label: { type: 'string', default: 'e2e key' },
    repos: { type: 'string', default: '' },
    expires: { type: 'string', default: '7' },
    'key-out': { type: 'string' },
    'key-id': { type: 'string' },
    of: { type: 'string' },
    foreign: { type: 'string', multiple: true, default: [] },
    shots: { type: 'string' },
  },
});
const base = opts.base;
const paths = DEFAULT_PATHS;
const keysUrl = base + paths.keys;
const idp = idpState(opts['idp-state']);
const password = idp.accounts[opts.user]?.password;

async function signedIn(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const errors = [];
  const { page } = await signIn(browser, { base, user: opts.user, password, context });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text().slice(0, 200)); });
  page.on('dialog', (d) => d.accept());          // the revoke confirmation: yes
  return { context, page, errors };
}

const text = async (page, sel) => (await page.$(sel)) ? (await page.textContent(sel)).trim() : null;

function headersOf(r) {
  const h = r.headers();
  return {
    status: r.status(),
    content_type: h['content-type'] ?? null,
    csp: h['content-security-policy'] ?? null,
    nosniff: h['x-content-type-options'] ?? null,
    cache: h['cache-control'] ?? null,
    referrer: h['referrer-policy'] ?? null,
  };
}

async function rows(page) {
  return page.$$eval('#keys [data-key-id]', (els) => els.map((e) => ({
    id: e.getAttribute('data-key-id'),
    label: e.querySelector('.label')?.textContent.trim() ?? null,
    owner: e.querySelector('.owner')?.textContent.trim() ?? null,
    scopes: e.querySelector('.scopes')?.textContent.trim() ?? null,
    last_used: e.querySelector('.last-used')?.textContent.trim() ?? null,
    expires: e.querySelector('.expires')?.textContent.trim() ?? null,
    revoke_button: e.querySelector('button.revoke[type=submit]') !== null,
  })));
}

// Tab from the top of the page: the ids focus reaches, in order (at most 40 presses).
async function tabOrder(page) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  const seen = [];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement?.id || document.activeElement?.className || '');
    if (id && !seen.includes(id)) seen.push(id);
  }
  return seen;
}

async function stepCreate(browser) {
  const out = {};
  const { context, page, errors } = await signedIn(browser);
  const r = await page.goto(keysUrl, { timeout: 15000 });
  out.headers = headersOf(r);
  out.css = headersOf(await context.request.get(`${keysUrl}/app.css`));
  out.js = headersOf(await context.request.get(`${keysUrl}/app.js`));
  out.user = await text(page, '#user');
  out.signout_href = await page.getAttribute('#signout', 'href');
  out.empty = await text(page, '#keys .empty');
  out.ids = {};
  for (const id of ['#user', '#keys', '#create-key', '#label', '#repos', '#expires', '#signout', '#new-key']) {
    out.ids[id] = (await page.$(id)) !== null;
  }
  out.submit = (await page.$('#create-key button[type=submit]')) !== null;
  // every field has a label a screen reader reads
  out.labelled = {};
  for (const id of ['label', 'repos', 'expires']) {
    out.labelled[id] = await page.$eval(`#${id}`, (e) => e.labels?.length ?? 0);
  }
  const jar = await ocigateCookies(context, base);
  const s = jar.ocigate_session;
  out.cookie = s && { path: s.path, httpOnly: s.httpOnly, secure: s.secure, sameSite: s.sameSite };
  out.tab_order = await tabOrder(page);
  // a visible focus style on the label field
  await page.focus('#label');
  out.focus_outline = await page.$eval('#label', (e) => getComputedStyle(e).outlineStyle);
  out.third_party = await page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => e.name).filter((u) => !u.startsWith(location.origin)));
  if (opts.shots) {
    fs.mkdirSync(opts.shots, { recursive: true });
    await page.screenshot({ path: path.join(opts.shots, `key-page-${opts.user}-desktop.png`), fullPage: true });
  }
  // 360 px wide: nothing wider than the screen
  await page.setViewportSize({ width: 360, height: 740 });
  out.width_360 = await page.evaluate(() => document.documentElement.scrollWidth);
  if (opts.shots) {
    await page.screenshot({ path: path.join(opts.shots, `key-page-${opts.user}-360px.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });

  // create, with the keyboard: type into the fields and press Enter in one
  await page.fill('#label', '');
  await page.focus('#label');
  await page.keyboard.type(opts.label);
  await page.fill('#repos', opts.repos);
  await page.fill('#expires', opts.expires);
  await page.focus('#label');
  const [resp] = await Promise.all([
    page.waitForNavigation({ timeout: 15000 }),
    page.keyboard.press('Enter'),
  ]);
  out.create_status = resp?.status() ?? null;
  out.error = await text(page, '#error');
  const key = await text(page, '#new-key');
  out.new_key_format = key ? /^zak_[0-9a-f]{32}$/.test(key) : false;
  if (key && opts['key-out']) fs.writeFileSync(opts['key-out'], `${key}\n`, { mode: 0o600 });
  out.copy_button_shown = await page.$eval('button[data-copy="new-key"]', (b) => !b.hidden).catch(() => false);
  out.docker_login = await text(page, '#docker-login');
  out.podman_login = await text(page, '#podman-login');
  out.rows = await rows(page);
  out.created = out.rows.find((x) => x.label === opts.label) ?? null;
  if (opts.shots) {
    await page.screenshot({ path: path.join(opts.shots, `key-page-${opts.user}-created.png`), fullPage: true,
      mask: [page.locator('#new-key')] });
  }
  // the key is shown once: a reload (GET) does not show it again
  await page.goto(keysUrl, { timeout: 15000 });
  out.new_key_after_reload = (await page.$('#new-key')) !== null;
  out.console_errors = errors;
  return out;
}

async function stepList(browser) {
  const out = {};
  const { page } = await signedIn(browser);
  await page.goto(keysUrl, { timeout: 15000 });
  const id = opts['key-id'];
  out.row = (await rows(page)).find((x) => x.id === id) ?? null;
  const button = page.locator(`[data-key-id="${id}"] button.revoke`);
  if (await button.count()) {
    const [resp] = await Promise.all([page.waitForNavigation({ timeout: 15000 }), button.click()]);
    out.revoke_status = resp?.status() ?? null;
  }
  out.path_after = new URL(page.url()).pathname + new URL(page.url()).search;
  out.notice = await text(page, '#notice');
  out.rows_after = (await rows(page)).map((x) => x.id);
  return out;
}

async function stepRevokeAll(browser) {
  const out = {};
  const { page } = await signedIn(browser);
  await page.goto(keysUrl, { timeout: 15000 });
  const before = await rows(page);
  out.owners_before = [...new Set(before.map((x) => x.owner))].sort();
  out.of_before = before.filter((x) => x.owner === opts.of).length;
  const button = page.locator(`button.revoke-all[data-user="${opts.of}"]`);
  if (await button.count()) {
    const [resp] = await Promise.all([page.waitForNavigation({ timeout: 15000 }), button.click()]);
    out.revoke_status = resp?.status() ?? null;
  }
  out.notice = await text(page, '#notice');
  const after = await rows(page);
  out.of_after = after.filter((x) => x.owner === opts.of).length;
  out.others_after = after.filter((x) => x.owner !== opts.of).length;
  return out;
}

async function stepSignout(browser) {
  const out = {};
  const { context, page } = await signedIn(browser);
  await page.goto(keysUrl, { timeout: 15000 });
  await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('#signout')]);
  if (!page.url().startsWith(base)) {              // the IdP asks "Sign out?"
    await page.waitForSelector('#logout-yes', { timeout: 15000 });
    await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('#logout-yes')]);
  }
  await page.waitForURL((u) => u.href.startsWith(keysUrl), { timeout: 15000 });
  await page.waitForLoadState('load');
  out.landed = new URL(page.url()).pathname;
  out.title = await text(page, 'h1');
  out.signin_href = await page.getAttribute('#signin', 'href').catch(() => null);
  out.cookies_left = Object.keys(await ocigateCookies(context, base));
  return out;
}

async function stepCsrf(browser) {
  const out = { foreign: [] };
  const { context, page } = await signedIn(browser);
  await page.goto(keysUrl, { timeout: 15000 });
  const token = await page.getAttribute('#create-key input[name=csrf]', 'value');
  const before = (await rows(page)).length;
  // a page on another origin whose form posts here (it submits itself)
  for (const url of opts.foreign) {
    let status = null;
    const onResponse = (r) => { if (r.url().startsWith(`${keysUrl}/create`)) status = r.status(); };
    page.on('response', onResponse);
    await page.goto(url, { timeout: 15000 });
    await page.waitForURL((u) => u.href.startsWith(keysUrl), { timeout: 15000 });
    await page.waitForLoadState('load');
    page.off('response', onResponse);
    out.foreign.push({ from: new URL(url).origin, status, message: await text(page, '#message') });
  }
  const post = async (form, headers) => (await context.request.post(`${keysUrl}/create`,
    { form, headers, maxRedirects: 0 })).status();
  const fields = { label: 'csrf-test', repos: '', expires: '1' };
  out.foreign_origin = await post({ ...fields, csrf: token }, { Origin: 'http://127.0.0.1:9' });
  out.cross_site = await post({ ...fields, csrf: token }, { 'Sec-Fetch-Site': 'cross-site' });
  out.no_token = await post(fields, { Origin: base });
  out.wrong_token = await post({ ...fields, csrf: '0'.repeat(64) }, { Origin: base });
  await page.goto(keysUrl, { timeout: 15000 });
  out.rows_unchanged = (await rows(page)).length === before;
  // the control: the same request with the token and our own Origin works
  out.control = await post({ ...fields, label: 'csrf-control', csrf: token }, { Origin: base });
  await page.goto(keysUrl, { timeout: 15000 });
  out.control_row = (await rows(page)).some((x) => x.label === 'csrf-control');
  return out;
}

const browser = await launch();
let result;
try {
  switch (opts.step) {
    case 'create': result = await stepCreate(browser); break;
    case 'list': result = await stepList(browser); break;
    case 'revoke-all': result = await stepRevokeAll(browser); break;
    case 'csrf': result = await stepCsrf(browser); break;
    case 'signout': result = await stepSignout(browser); break;
    default: throw new Error(`unknown step ${opts.step}`);
  }
} catch (err) {
  result = { error: String(err?.message ?? err).split('\n')[0] };
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
