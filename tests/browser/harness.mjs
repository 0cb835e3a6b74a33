// tests/browser/harness.mjs - headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core from tests/idp/node_modules) for the end-to-end
// tests of ocigate's browser pages, against the test IdP (tests/idp/server.mjs).
//
//   import { launch, signIn, idpState } from './harness.mjs';
//   const browser = await launch();
//   const idp = idpState(process.env.IDP_STATE);          // the IdP's state file
//   const { context, page } = await signIn(browser, {
//     base: 'http://127.0.0.1:PORT',                        // ocigate's externalUrl
//     user: 'alice', password: idp.accounts.alice.password,
//   });
//   // page is on endpoints.keys, context holds the ocigate_session cookie
//   await browser.close();
//
// Environment: CHROMIUM (default /usr/bin/chromium); OCIGATE_IDP_DIR, the
// folder whose node_modules holds playwright-core (default tests/idp next to
// this file). Passwords come from the IdP's state file, never from the
// command line.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const idpDir = process.env.OCIGATE_IDP_DIR ?? path.join(here, '..', 'idp');
const require = createRequire(path.join(idpDir, 'package.json'));
const { chromium } = require('playwright-core');

export const DEFAULT_PATHS = {
  login: '/ocigate/login',
  callback: '/ocigate/callback',
  logout: '/ocigate/logout',
  keys: '/ocigate/keys',
};

export function idpState(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // root in a container: no user namespaces for Chromium's sandbox
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run'],
    timeout: 30000,
  });
}

// On the IdP's login form: fill it in and submit.
export async function idpLogin(page, user, password) {
  await page.waitForSelector('#username', { timeout: 15000 });
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('#submit')]);
}

// Wait until the page is at a URL that starts with prefix.
export async function waitForPrefix(page, prefix, timeout = 15000) {
  await page.waitForURL((u) => u.href.startsWith(prefix), { timeout });
}

// Sign `user` in through the web server at base: endpoints.login, the IdP's
// login form, its consent form (allowed) when it asks, back through
// endpoints.callback to endpoints.keys. Returns { context, page } with the
// page on endpoints.keys. Throws when the sign-in does not land there.
// opts.context: an existing browser context to use (else a new one).
export async function signIn(browser, {
  base, user, password, paths = DEFAULT_PATHS, context = undefined,
}) {
  const ctx = context ?? await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(base + paths.login, { timeout: 15000 });
  if (!page.url().startsWith(base)) {            // at the IdP
    await idpLogin(page, user, password);
    if (await page.$('#allow')) {
      await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.click('#allow')]);
    }
  }
  await waitForPrefix(page, base + paths.keys);
  return { context: ctx, page };
}

// The ocigate cookies of a context, by name.
export async function ocigateCookies(context, base) {
  const host = new URL(base).hostname;
  const all = await context.cookies();
  return Object.fromEntries(all
    .filter((c) => c.name.startsWith('ocigate_') && c.domain.replace(/^\./, '') === host)
    .map((c) => [c.name, c]));
}
