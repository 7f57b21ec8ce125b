// The GraphQL-over-HTTP conformance audit: every server audit of graphql-http (pinned in
// package.json) against POST/GET /graphql of the release binary, with an admin token in every
// request (all operations but issueToken need one, and the audits send `{ __typename }`).
//
//   npm ci --prefix checks/http && npm test --prefix checks/http
//
// graphql-http grades each audit by its name: a failed MUST is 'error', a failed SHOULD is
// 'warn', a failed MAY is 'notice'. This check fails on any 'error', and on any 'warn' not in
// ALLOWED_WARNINGS below; notices are printed, never fatal (MAY is the server's choice).
//
// Environment (optional): FAVORITES_API_BIN, the binary (default target/release/favorites-api).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serverAudits } from 'graphql-http';

import { startApi } from '../../scripts/start-api.mjs';

// SHOULD-level audits we knowingly do not meet: audit id -> one line saying why.
// An entry whose audit passes (or no longer exists) fails the check, so the list stays true.
const ALLOWED_WARNINGS = new Map([
  // ['22EB', 'why we answer otherwise'],
]);

let api;

before(async () => {
  api = await startApi('favorites-http-audit-');
});

after(async () => {
  if (process.exitCode && api) {
    console.error(`favorites-api's log (last lines):\n${api.log().slice(-4000) || '(empty)'}`);
  }
  await api?.stop();
});

/** fetch with our bearer token added to whatever headers the audit sends. */
function authorizedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${api.token()}`);
  return fetch(input, { ...init, headers });
}

/** An audit's failure: its reason only (the stack would point into this file, not the server). */
function failure(message) {
  const error = new Error(message);
  error.stack = message;
  return error;
}

/** What the server answered, in one line, for a failed audit. */
async function describeResponse(response) {
  if (!response) return '(no response)';
  let body;
  try {
    body = (await response.clone().text()).replace(/\s+/g, ' ');
    if (body.length > 300) body = `${body.slice(0, 300)}...`;
  } catch {
    body = '(body consumed by the audit)';
  }
  const type = response.headers.get('content-type') ?? '(no content-type)';
  return `HTTP ${response.status} ${type}: ${body}`;
}

test('GraphQL over HTTP: the graphql-http server audits', { timeout: 60_000 }, async (t) => {
  const audits = serverAudits({ url: api.graphqlUrl, fetchFn: authorizedFetch });
  const results = [];
  // One at a time: the log reads in order, and no concurrency limit of the server is tested.
  for (const audit of audits) {
    try {
      results.push(await audit.fn());
    } catch (error) {
      // graphql-http throws only when an audit cannot run at all (the request failed): a MUST.
      results.push({ id: audit.id, name: audit.name, status: 'error', reason: `fatal: ${error}` });
    }
  }

  const count = (status) => results.filter((result) => result.status === status).length;
  console.log(
    `graphql-http audit: ${count('ok')} ok, ${count('warn')} warn, ${count('error')} error, ` +
      `${count('notice')} notice (of ${results.length})`,
  );
  for (const result of results.filter((r) => r.status !== 'ok')) {
    const allowed = result.status === 'warn' && ALLOWED_WARNINGS.has(result.id) ? ' (allowed)' : '';
    console.log(`  ${result.status}${allowed} ${result.id} ${result.name}: ${result.reason}`);
    console.log(`    ${await describeResponse(result.response)}`);
  }

  // One subtest per audit, so each failure is reported on its own line.
  for (const result of results) {
    await t.test(`${result.id} ${result.name}`, () => {
      if (result.status === 'error') throw failure(`MUST not met: ${result.reason}`);
      if (result.status === 'warn' && !ALLOWED_WARNINGS.has(result.id)) {
        throw failure(`SHOULD not met (not in ALLOWED_WARNINGS): ${result.reason}`);
      }
      if (result.status === 'notice') t.diagnostic(`${result.id} (MAY) not met: ${result.reason}`);
    });
  }

  await t.test('ALLOWED_WARNINGS lists only warnings that occur', () => {
    const warned = new Set(results.filter((r) => r.status === 'warn').map((r) => r.id));
    const stale = [...ALLOWED_WARNINGS.keys()].filter((id) => !warned.has(id));
    assert.deepEqual(stale, [], `allowed but no longer warned (remove them): ${stale.join(', ')}`);
  });
});
