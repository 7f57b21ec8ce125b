// GraphiQL in headless Chromium, against the release binary, with local assets only:
// runs issueToken through the UI, checks the page put the token into the Authorization header,
// lists clients and finds the one seeded over plain HTTP, checks that nothing of it (the password
// above all) went into the browser's storage, and saves docs/graphiql.png. Fails when
// any request leaves 127.0.0.1, on a Content-Security-Policy violation, and on any console
// error or uncaught page error.
//
//   cd checks/browser && npm ci && npm test
//
// Environment (all optional):
//   FAVORITES_API_BIN    the binary (default target/release/favorites-api, from the repo root)
//   GRAPHIQL_ASSETS_DIR  assets already installed by scripts/graphiql-assets (default: install
//                        them into a temporary directory, which needs the npm registry)
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { PASSWORD, USERNAME, runToEnd, startApi, until } from '../../scripts/start-api.mjs';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshotPath = path.join(repo, 'docs', 'graphiql.png');

// Fixed, so the screenshot is the same from run to run (every run has a fresh database).
const CLIENT_NAME = 'Zelda Browsercheck';
const CLIENT_EMAIL = 'zelda@browser-check.example';

const work = mkdtempSync(path.join(tmpdir(), 'favorites-browser-'));
let keepWork = true; // cleared when the test passes; the directory then goes
let api; // scripts/start-api.mjs
let context; // the browser

async function graphql(query, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({ query });
  const response = await fetch(`${api.url}/graphql`, { method: 'POST', headers, body });
  const answer = await response.json();
  assert.equal(answer.errors, undefined, `${query}\n${JSON.stringify(answer.errors)}`);
  return answer.data;
}

// --- the page --------------------------------------------------------------------------------

const isLocal = (url) => {
  const { protocol, hostname } = new URL(url);
  return ['data:', 'blob:', 'about:'].includes(protocol) || hostname === '127.0.0.1';
};

/** The text of a CodeMirror editor (whole, not only the lines on screen). */
const editorText = (page, selector) =>
  page.$eval(`${selector} .CodeMirror`, (element) => element.CodeMirror.getValue());

/** Replaces an editor's text the way a user would: click, select all, type (as a paste: no
 *  auto-closed brackets). */
async function typeInto(page, selector, text) {
  await page.click(`${selector} .CodeMirror-lines`);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.insertText(text);
  assert.equal(await editorText(page, selector), text);
}

/** Clicks run, and waits for the result panel to show `expected` (text or a pattern). */
async function execute(page, expected) {
  const before = await editorText(page, '.graphiql-response');
  await page.click('.graphiql-execute-button');
  return until(`the result panel to show ${expected}`, 15_000, async () => {
    const shown = await page.$eval('.graphiql-response', (element) => element.innerText);
    const whole = await editorText(page, '.graphiql-response');
    if (whole === before || !shown.match(expected)) return null;
    return whole;
  });
}

// --- the check -------------------------------------------------------------------------------

/** The assets, the fake catalog, the API with a seeded client, and the browser. */
async function setUp() {
  let assetsDir = process.env.GRAPHIQL_ASSETS_DIR;
  if (!assetsDir) {
    assetsDir = path.join(work, 'assets');
    await runToEnd(path.join(repo, 'scripts/graphiql-assets'), [assetsDir]);
  }
  api = await startApi('favorites-browser-api-', {
    env: { GRAPHIQL_ASSETS_DIR: path.resolve(assetsDir) },
  });
  const boot = await fetch(`${api.url}/graphiql/app.js`);
  assert.equal(boot.status, 200, 'GET /graphiql/app.js: this binary does not serve it (too old?)');

  await graphql(
    `mutation { createClient(input: { name: "${CLIENT_NAME}", email: "${CLIENT_EMAIL}" }) { id } }`,
    api.token(),
  );

  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
}

after(async () => {
  await context?.close().catch(() => {});
  const log = api?.log() ?? '';
  await api?.stop();
  if (keepWork) {
    console.error(`kept ${work} (the profile, the database, failure.png)`);
    if (log) console.error(`favorites-api's log (last lines):\n${log.slice(-4000)}`);
  } else {
    rmSync(work, { recursive: true, force: true });
  }
});

const title = 'GraphiQL: issueToken, the token in the header, then the seeded client';
test(title, { timeout: 300_000 }, async () => {
  await setUp();

  const requests = [];
  const problems = []; // console errors, page errors, CSP violations, failed requests

  // No request leaves the machine: each one is recorded, and any to another host is refused.
  context.on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
  await context.route((url) => !isLocal(url.href), (route) => route.abort('blockedbyclient'));
  // Added by the browser, not the page, so the page's CSP does not apply to this.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'}`);
    });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });

  const outside = () => requests.filter((request) => !isLocal(request.split(' ')[1]));
  const assertClean = (when) => {
    assert.deepEqual(outside(), [], `${when}: requests left 127.0.0.1:\n${outside().join('\n')}`);
    assert.deepEqual(problems, [], `${when}: the page had problems:\n${problems.join('\n')}`);
  };

  try {
    const response = await page.goto(`${api.url}/graphql`);
    assert.equal(response.status(), 200);
    const csp = response.headers()['content-security-policy'];
    assert.ok(csp, 'GET /graphql sends a Content-Security-Policy');
    const scriptSrc =
      csp.match(/(?:^|;)\s*script-src([^;]*)/)?.[1] ?? csp.match(/default-src([^;]*)/)?.[1];
    assert.doesNotMatch(scriptSrc ?? '', /unsafe-inline|unsafe-eval/, `script-src in: ${csp}`);

    // The page opens on the Headers tab, with the header to fill in.
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20_000 });
    const headers = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';
    await page.waitForSelector(`${headers} .CodeMirror`, { state: 'visible' });
    assert.match(await editorText(page, headers), /"Authorization": "Bearer <[^>]+>"/);
    // Not the demo password: this server does not use it, so the page does not offer it.
    const opening = await editorText(page, '.graphiql-query-editor');
    assert.match(opening, /password: "<password>"/);
    assert.doesNotMatch(opening, /favorite_products_password/);
    assertClean('after loading');

    // 1. issueToken, typed into the query editor and run.
    await typeInto(
      page,
      '.graphiql-query-editor',
      `mutation { issueToken(username: "${USERNAME}", password: "${PASSWORD}") { accessToken expiresAt } }`,
    );
    const issued = JSON.parse(await execute(page, /accessToken/));
    const token = issued.data?.issueToken?.accessToken;
    assert.ok(token, `issueToken answered: ${JSON.stringify(issued)}`);

    // 2. The page put it into the Authorization header.
    await until('the token in the Headers editor', 5_000, async () =>
      (await editorText(page, headers)).includes(`"Bearer ${token}"`),
    );
    assert.deepEqual(JSON.parse(await editorText(page, headers)), { Authorization: `Bearer ${token}` });
    assertClean('after issueToken');

    // GraphiQL's dialogs add a <style> element: the policy must allow that much.
    await page.click('button[aria-label="Open short keys dialog"]');
    await page.waitForSelector('[role="dialog"]');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[role="dialog"]', { state: 'detached' });
    assertClean('after opening a dialog');

    // 3. clients, with that header: the seeded client is in the result panel.
    const clients = '{\n  clients {\n    totalCount\n    nodes { name email }\n  }\n}';
    await typeInto(page, '.graphiql-query-editor', clients);
    const listed = JSON.parse(await execute(page, CLIENT_NAME));
    assert.equal(listed.errors, undefined, JSON.stringify(listed.errors));
    assert.deepEqual(listed.data.clients.nodes, [{ name: CLIENT_NAME, email: CLIENT_EMAIL }]);

    assertClean('at the end');

    // Nothing of the session is in the browser's storage: no editor text, tab, history or
    // header, so no password and no token.
    const stored = await page.evaluate(() => ({
      local: Object.entries(localStorage),
      session: Object.entries(sessionStorage),
    }));
    const storedText = JSON.stringify(stored);
    assert.ok(!storedText.includes(PASSWORD), `the password is in the browser's storage: ${storedText}`);
    assert.ok(!storedText.includes(token), `the token is in the browser's storage: ${storedText}`);
    assert.deepEqual(stored.local.filter(([key]) => key.startsWith('graphiql')), [], storedText);

    // No focus (no blinking cursor), no hover, no transition: the same picture on every run.
    await page.evaluate(() => document.activeElement?.blur());
    await page.mouse.move(1000, 700);
    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, animations: 'disabled' });
    keepWork = false;
  } catch (error) {
    await page.screenshot({ path: path.join(work, 'failure.png') }).catch(() => {});
    console.error(`requests:\n${requests.join('\n')}\nproblems:\n${problems.join('\n') || '(none)'}`);
    throw error;
  }
});
