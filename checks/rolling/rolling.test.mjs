// A rolling restart behind a real load balancer. Two instances of the release binary (A and B)
// share one PostgreSQL database behind HAProxy, which health-checks GET /readyz and neither
// retries nor redispatches a request: whatever a restart breaks, the callers see. Under steady
// load (16 workers reading and writing, a writer changing one client's list every ~300 ms and a
// graphql-ws subscriber watching it), A is stopped with SIGTERM, started again, then B.
//
// Expected: no request fails, every acknowledged write is there afterwards, each instance exits
// 0, and the subscriber reconnects by itself and hears changes after each restart.
//
//   npm ci --prefix checks/rolling && npm test --prefix checks/rolling
//
// Needs: haproxy on PATH (.ci/run installs it: apt-get install haproxy), PostgreSQL at
// 127.0.0.1:5432 (user postgres, trust; a throwaway database is created and dropped), and the
// release binary (FAVORITES_API_BIN names another). Redis at 127.0.0.1:6379 is used when it
// answers (with a key prefix of its own, removed at the end). ROLLING_DRAIN_MS (default 3000)
// sets the instances' SHUTDOWN_DRAIN_MS; 0 shows what the drain is for: requests fail.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

import {
  bin,
  freePort,
  runToEnd,
  startCatalog,
  startProcess,
  stopProcess,
  until,
} from '../../scripts/start-api.mjs';

const USERNAME = 'admin';
const PASSWORD = 'rolling-check-password';
const SECRET_KEY = 'rolling-check-signing-key-0123456789abcdefghij';
const DRAIN_MS = Number(process.env.ROLLING_DRAIN_MS ?? 3000);
const CLIENTS = 20;
const WORKERS = 16;
const PRODUCTS = 20; // the fake catalog's fixture has ids 1 to 20

const CREATE_CLIENT = `mutation ($input: CreateClientInput!) { createClient(input: $input) { id } }`;
const ADD = `mutation ($clientId: UUID!, $productId: Int!) { addFavorite(clientId: $clientId, productId: $productId) { id } }`;
const REMOVE = `mutation ($clientId: UUID!, $productId: Int!) { removeFavorite(clientId: $clientId, productId: $productId) { id } }`;
const READ_CLIENT = `query ($id: UUID!) { client(id: $id) { name favorites { totalCount nodes { productId } } } }`;
const READ_CLIENTS = `query { clients(first: 10) { nodes { id } } }`;
const FINAL_READ = `query ($id: UUID!) { client(id: $id) { favorites(first: 100) { totalCount nodes { productId } } } }`;
const FAVORITES_CHANGED = `subscription ($id: UUID!) { favoritesChanged(clientId: $id) { id favorites { totalCount nodes { productId } } } }`;

const t0 = performance.now();
/** Milliseconds since the check began. */
const now = () => Math.round(performance.now() - t0);
/** A timer that does not keep the process alive (for races against a deadline). */
const deadline = (ms) => sleep(ms, null, { ref: false });

const psql = (sql) =>
  runToEnd('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql]);

function requireHaproxy() {
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'haproxy is not on PATH (or does not run): this check needs it. ' +
        '.ci/run installs it (apt-get install haproxy); by hand: apt-get install haproxy',
    );
  }
  return `HAProxy ${probe.stdout.match(/version (\S+)/)?.[1] ?? '(version unknown)'}`;
}

function redisAnswers() {
  const ping = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8', timeout: 2000 });
  return !ping.error && ping.stdout.trim() === 'PONG';
}

function removeRedisKeys(prefix) {
  const scan = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', '--scan', '--pattern', `${prefix}:*`], {
    encoding: 'utf8',
    timeout: 5000,
  });
  const keys = (scan.stdout ?? '').split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) {
    spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'del', ...keys.slice(i, i + 500)], { timeout: 5000 });
  }
}

/** GET on one instance directly, on a connection of its own: status, Connection header, body. */
function getDirect(port, pathname) {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, connection: response.headers.connection, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ status: null, error: error.code ?? error.message }));
  });
}

function describeError(error) {
  const cause = error?.cause;
  return [error?.message, cause?.code, cause?.message].filter(Boolean).join(': ');
}

function haproxyConfig({ port, a, b }) {
  return `# Written by checks/rolling/rolling.test.mjs.
global
    log stdout format raw local0
    maxconn 2048

defaults
    mode http
    log global
    option httplog
    # Only what went wrong (errors, aborts, 5xx) and health-check transitions are logged.
    option dontlog-normal
    option log-health-checks
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h
    # No second chance: a request that fails on its server fails for the caller.
    retries 0
    # (option redispatch deliberately not set)
    http-reuse safe

frontend api
    bind 127.0.0.1:${port}
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # Which instance answered, for the check's bookkeeping.
    http-response set-header x-served-by %s
    server a 127.0.0.1:${a} check inter 500ms fall 2 rise 2
    server b 127.0.0.1:${b} check inter 500ms fall 2 rise 2
`;
}

test('rolling restart of two instances behind HAProxy: no failed request, no lost write', { timeout: 120_000 }, async (t) => {
  const haproxyVersion = requireHaproxy();
  if (!existsSync(bin)) throw new Error(`no binary at ${bin}: cargo build --release, or set FAVORITES_API_BIN`);

  const work = mkdtempSync(path.join(tmpdir(), 'favorites-rolling-'));
  const database = `favorites_rolling_${process.pid}`;
  const redisPrefix = `favorites-rolling-${process.pid}`;
  const useRedis = redisAnswers();
  const timeline = []; // [ms, what]
  const mark = (what) => timeline.push([now(), what]);
  const haproxyLines = []; // [ms, line]: errors and health-check transitions
  const instances = {
    a: { name: 'a', port: 0, child: null, runs: [] },
    b: { name: 'b', port: 0, child: null, runs: [] },
  };
  let catalog;
  let haproxy;
  let wsClient;
  let databaseCreated = false;
  let loadStopped = false;
  const running = []; // the load's promises
  // Ctrl-C (or the test runner's SIGTERM): what cannot wait; the children go with the process
  // (start-api.mjs kills them at exit).
  const onInterrupt = () => {
    if (databaseCreated) {
      spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-q', '-c', `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`]);
    }
    if (useRedis) removeRedisKeys(redisPrefix);
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);

  // What went over the wire.
  const stats = {
    sent: 0,
    ok: 0,
    failed: 0,
    failures: [], // the first 20
    served: { a: 0, b: 0 },
    lastServedAt: { a: -1, b: -1 },
    maxLatencyMs: 0,
    writesAcknowledged: 0,
  };
  // Per (client, product): whether it should be there, and how many acknowledged writes say so.
  const expected = new Map(); // clientId -> Map(productId -> { present, uncertain, acked })
  const sub = { events: [], connected: [], closed: [], errors: [], completed: null };
  let lb;
  let token;

  const showLogs = () => {
    // Its log lines (stdout) and not their copies as warnings (stderr).
    const logged = haproxyLines.filter(([, line]) => !line.startsWith('[WARNING]'));
    const healthLines = logged.filter(([, line]) => /^(Health check|Server) /.test(line));
    const errorLines = logged.filter(([, line]) => !/^(Health check|Server) /.test(line));
    const lines = [
      `timeline (ms): ${timeline.map(([ms, what]) => `${ms} ${what}`).join('; ')}`,
      `HAProxy (health checks; errors, the first 40 of ${errorLines.length}):\n` +
        `${[...healthLines, ...errorLines.slice(0, 40)].map(([ms, line]) => `  ${ms} ${line}`).join('\n') || '  (none)'}`,
    ];
    for (const instance of Object.values(instances)) {
      for (const [i, run] of instance.runs.entries()) {
        lines.push(`instance ${instance.name} run ${i + 1} output (last 3000 chars):\n${run.text().slice(-3000) || '(none)'}`);
      }
    }
    return lines.join('\n');
  };

  try {
    // --- PostgreSQL, the catalog, the admin's password hash.
    try {
      await psql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await psql(`CREATE DATABASE "${database}"`);
      databaseCreated = true;
    } catch (error) {
      throw new Error(
        `this check needs PostgreSQL at 127.0.0.1:5432, user postgres without a password ` +
          `(.ci/run starts it): ${error.message}`,
      );
    }
    const hash = (await runToEnd(bin, ['hash-password', '--cost', '4'], { input: PASSWORD })).trim();
    catalog = await startCatalog();

    instances.a.port = await freePort();
    instances.b.port = await freePort();
    const lbPort = await freePort();
    lb = `http://127.0.0.1:${lbPort}`;
    const env = {
      PATH: process.env.PATH,
      RUST_LOG: 'warn',
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
      FAKESTOREAPI_URL: catalog.url,
      SECRET_KEY,
      MASTER_USERNAME: USERNAME,
      MASTER_PASSWORD_HASH: hash,
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      MAX_CONCURRENT_REQUESTS: '256',
      ...(useRedis ? { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: redisPrefix } : {}),
    };

    const startInstance = (instance) => {
      instance.child = startProcess(bin, ['serve'], {
        cwd: work, // not the repo: its .env must not count
        env: { ...env, LISTEN_ADDR: `127.0.0.1:${instance.port}` },
      });
      instance.runs.push(instance.child);
      mark(`${instance.name} started`);
    };
    const untilReady = async (instance) => {
      const child = instance.child;
      await until(`instance ${instance.name}: GET /readyz = 200`, 30_000, async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`instance ${instance.name} exited (${child.exitCode ?? child.signalCode})`);
        }
        return (await getDirect(instance.port, '/readyz')).status === 200;
      });
      mark(`${instance.name} ready`);
    };

    // Both at once: the migrations' advisory lock lets them.
    startInstance(instances.a);
    startInstance(instances.b);
    await Promise.all([untilReady(instances.a), untilReady(instances.b)]);

    // --- HAProxy, in the foreground.
    const cfg = path.join(work, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig({ port: lbPort, a: instances.a.port, b: instances.b.port }));
    await runToEnd('haproxy', ['-c', '-q', '-f', cfg]);
    haproxy = startProcess('haproxy', ['-f', cfg, '-db']);
    let partial = '';
    const collect = (chunk) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        // Every health-check line; errors up to 2000.
        if (line.trim() && (haproxyLines.length < 2000 || /Health check|Server instances/.test(line))) {
          haproxyLines.push([now(), line.trim()]);
        }
      }
    };
    haproxy.stdout.on('data', collect);
    haproxy.stderr.on('data', collect);
    await until('HAProxy answering GET /readyz = 200', 10_000, async () => {
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited (${haproxy.exitCode}):\n${haproxy.text()}`);
      try {
        return (await fetch(`${lb}/readyz`)).status === 200;
      } catch {
        return false;
      }
    });
    mark('haproxy up');

    // --- Through HAProxy only from here: a token, the clients, the subscriber.
    const tokenResponse = await fetch(`${lb}/api/v1/auth/master-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: USERNAME, password: PASSWORD }),
    });
    const tokenText = await tokenResponse.text();
    assert.equal(tokenResponse.status, 200, `POST /api/v1/auth/master-token: ${tokenText}`);
    token = JSON.parse(tokenText).access_token;
    assert.ok(token, `no access_token in ${tokenText}`);

    const post = (query, variables) =>
      fetch(`${lb}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query, variables }),
      });

    /** One counted request of the load: its data, or null (counted and described) when it failed. */
    const request = async (who, op, query, variables) => {
      stats.sent += 1;
      const started = performance.now();
      const fail = (details) => {
        stats.failed += 1;
        if (stats.failures.length < 20) {
          stats.failures.push({ at: now(), who, op, variables, ms: Math.round(performance.now() - started), ...details });
        }
        return null;
      };
      let status;
      let servedBy;
      let text;
      try {
        const response = await post(query, variables);
        status = response.status;
        servedBy = response.headers.get('x-served-by');
        text = await response.text();
      } catch (error) {
        return fail({ error: describeError(error), status, servedBy });
      }
      const latency = performance.now() - started;
      stats.maxLatencyMs = Math.max(stats.maxLatencyMs, Math.round(latency));
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: a failure below
      }
      if (status !== 200 || !body?.data || body.errors) {
        return fail({ status, servedBy, body: text.slice(0, 300) });
      }
      stats.ok += 1;
      if (servedBy in stats.served) {
        stats.served[servedBy] += 1;
        stats.lastServedAt[servedBy] = now();
      }
      return body.data;
    };

    const createClient = async (name, email) => {
      const response = await post(CREATE_CLIENT, { input: { name, email } });
      const text = await response.text();
      assert.equal(response.status, 200, `createClient: ${text}`);
      const body = JSON.parse(text);
      assert.ok(!body.errors && body.data?.createClient?.id, `createClient: ${text}`);
      expected.set(body.data.createClient.id, new Map());
      return body.data.createClient.id;
    };
    const run = `${process.pid}-${Date.now()}`;
    const clients = [];
    for (let i = 0; i < CLIENTS; i += 1) {
      clients.push(await createClient(`Rolling ${i}`, `rolling-${run}-${i}@example.com`));
    }
    const watched = await createClient('Rolling watched', `rolling-${run}-watched@example.com`);
    mark(`${CLIENTS + 1} clients created`);

    /** An add or remove, with its effect remembered when acknowledged (or the pair marked uncertain). */
    const write = async (who, clientId, productId) => {
      const pairs = expected.get(clientId);
      const pair = pairs.get(productId) ?? { present: false, uncertain: false, acked: 0 };
      pairs.set(productId, pair);
      const remove = pair.present;
      const data = await request(who, remove ? 'removeFavorite' : 'addFavorite', remove ? REMOVE : ADD, {
        clientId,
        productId,
      });
      if (data) {
        stats.writesAcknowledged += 1;
        pair.acked += 1;
        pair.present = !remove;
        pair.uncertain = false;
      } else {
        pair.uncertain = true; // it may or may not have happened
      }
    };

    // The subscriber, on the watched client, through HAProxy, reconnecting by itself.
    wsClient = createWsClient({
      url: `ws://127.0.0.1:${lbPort}/graphql/ws`,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${token}` },
      retryAttempts: Number.MAX_SAFE_INTEGER,
      shouldRetry: () => true,
      retryWait: () => sleep(50),
      on: {
        connected: () => sub.connected.push(now()),
        closed: (event) => sub.closed.push({ at: now(), code: event?.code, reason: event?.reason }),
        error: (error) => sub.errors.push({ at: now(), error: describeError(error) }),
      },
    });
    wsClient.subscribe(
      { query: FAVORITES_CHANGED, variables: { id: watched } },
      {
        next: (result) => {
          if (result.errors) sub.errors.push({ at: now(), error: JSON.stringify(result.errors) });
          else sub.events.push({ at: now(), count: result.data?.favoritesChanged?.favorites?.totalCount });
        },
        error: (error) => sub.errors.push({ at: now(), error: `subscription ended: ${describeError(error) || JSON.stringify(error)}` }),
        complete: () => {
          sub.completed = now();
        },
      },
    );

    // --- The load: each worker owns a disjoint set of clients for its writes (so writes to one
    // client are sequential) and reads any client.
    const worker = async (w) => {
      const owned = clients.filter((_, i) => i % WORKERS === w);
      const who = `worker ${w}`;
      while (!loadStopped) {
        const roll = Math.random();
        if (roll < 0.4) {
          const clientId = owned[Math.floor(Math.random() * owned.length)];
          await write(who, clientId, 1 + Math.floor(Math.random() * PRODUCTS));
        } else if (roll < 0.85) {
          await request(who, 'client', READ_CLIENT, { id: clients[Math.floor(Math.random() * clients.length)] });
        } else {
          await request(who, 'clients', READ_CLIENTS, {});
        }
      }
    };
    // The watched client's writer: add, then remove, one product after the other.
    const writer = async () => {
      for (let productId = 1; !loadStopped; productId = (productId % PRODUCTS) + 1) {
        await write('writer', watched, productId); // add
        await sleep(150);
        if (loadStopped) break;
        await write('writer', watched, productId); // remove
        await sleep(150);
      }
    };
    for (let w = 0; w < WORKERS; w += 1) running.push(worker(w));
    running.push(writer());
    mark('load started');

    await until('the subscriber hearing a first change', 10_000, () => sub.events.length > 0);
    await until('HAProxy sending load to both instances', 10_000, () => stats.served.a > 0 && stats.served.b > 0);
    mark('subscriber hearing changes; both instances serving');
    await sleep(1000);

    // --- The rolling restart.
    const restartAt = {};
    const backAt = {};
    const drainAnswers = {};
    for (const instance of [instances.a, instances.b]) {
      const { name } = instance;
      const child = instance.child;
      restartAt[name] = now();
      child.kill('SIGTERM');
      mark(`SIGTERM ${name}`);
      await sleep(200);
      drainAnswers[name] = await getDirect(instance.port, '/readyz');
      const exited = await Promise.race([child.exited, deadline(DRAIN_MS + 15_000)]);
      assert.ok(exited, `instance ${name} did not exit within ${DRAIN_MS + 15_000} ms of SIGTERM\n${showLogs()}`);
      mark(`${name} exited (${exited.code ?? exited.signal})`);
      assert.deepEqual(
        exited,
        { code: 0, signal: null },
        `instance ${name} should exit 0 after SIGTERM\n${showLogs()}`,
      );
      startInstance(instance);
      await untilReady(instance);
      const readyAt = now();
      await until(`HAProxy sending requests to ${name} again`, 10_000, () => stats.lastServedAt[name] > readyAt);
      backAt[name] = now();
      mark(`${name} serving through HAProxy again`);
    }
    await sleep(2000);
    loadStopped = true;
    await Promise.all(running);
    mark('load stopped');

    // --- The final state, through HAProxy, twice (so both instances are likely asked).
    await sleep(500);
    let pairsChecked = 0;
    let pairsMatching = 0;
    let writesFound = 0;
    const mismatches = [];
    for (let pass = 1; pass <= 2; pass += 1) {
      for (const [clientId, pairs] of expected) {
        const response = await post(FINAL_READ, { id: clientId });
        const text = await response.text();
        assert.equal(response.status, 200, `final read of ${clientId}: ${text}`);
        const body = JSON.parse(text);
        assert.ok(!body.errors, `final read of ${clientId}: ${text}`);
        const favorites = body.data.client.favorites;
        const actual = new Set(favorites.nodes.map((node) => node.productId));
        assert.equal(favorites.totalCount, actual.size, `final read of ${clientId}: totalCount ${text}`);
        for (const productId of actual) {
          if (!pairs.has(productId)) mismatches.push(`pass ${pass}: ${clientId} has ${productId}, never written`);
        }
        for (const [productId, pair] of pairs) {
          if (pass === 1) pairsChecked += 1;
          if (pair.uncertain || actual.has(productId) === pair.present) {
            if (pass === 1) {
              pairsMatching += 1;
              writesFound += pair.acked;
            }
          } else {
            mismatches.push(
              `pass ${pass} (${response.headers.get('x-served-by')}): ${clientId} product ${productId}: ` +
                `expected ${pair.present ? 'present' : 'absent'} after ${pair.acked} acknowledged writes`,
            );
          }
        }
      }
    }

    // --- The subscriber.
    const endAt = now();
    await wsClient.dispose();
    wsClient = null;
    mark('subscriber closed');
    const closesWhileOpen = [];
    for (const close of sub.closed.filter((c) => c.at < endAt)) {
      // A close of a socket that was up (not of a failed attempt): the last connect before it
      // came after the previous close.
      const reconnected = sub.connected.find((at) => at >= close.at);
      const previousClose = sub.closed.filter((c) => c.at < close.at).at(-1)?.at ?? -1;
      const wasOpen = sub.connected.some((at) => at > previousClose && at <= close.at);
      if (wasOpen) closesWhileOpen.push({ ...close, reconnectedAt: reconnected, ms: reconnected === undefined ? null : reconnected - close.at });
    }
    const attempts = sub.closed.filter((c) => c.at < endAt).length;
    const reconnectTimes = closesWhileOpen.map((c) => c.ms);
    const eventsAfterBack = Object.fromEntries(
      Object.entries(backAt).map(([name, at]) => [name, sub.events.filter((e) => e.at > at).length]),
    );

    // When HAProxy saw each instance go and come back (its log, as received).
    const stateChange = (name, state, after) =>
      haproxyLines.find(([ms, line]) => ms >= after && line.startsWith(`Server instances/${name} is ${state}`))?.[0];
    const detection = Object.keys(restartAt).map((name) => {
      const down = stateChange(name, 'DOWN', restartAt[name]);
      const up = stateChange(name, 'UP', restartAt[name]);
      const ready = timeline.filter(([ms, what]) => what === `${name} ready` && ms > restartAt[name])[0]?.[0];
      const fmt = (ms) => (ms === undefined ? '?' : `${ms} ms`);
      return (
        `${name} DOWN ${fmt(down === undefined ? undefined : down - restartAt[name])} after SIGTERM, ` +
        `UP ${fmt(up === undefined || ready === undefined ? undefined : up - ready)} after ready`
      );
    });
    const summary =
      `rolling restart: requests sent ${stats.sent}, ok ${stats.ok}, failed ${stats.failed}; ` +
      `writes acknowledged ${stats.writesAcknowledged}, found ${writesFound} ` +
      `((client, product) pairs as expected ${pairsMatching}/${pairsChecked}); ` +
      `subscriber reconnects ${closesWhileOpen.length} (${reconnectTimes.map((ms) => `${ms} ms`).join(', ') || 'none'}; ` +
      `close codes ${closesWhileOpen.map((c) => c.code).join(', ') || '-'}; ${attempts} closes in all), ` +
      `events received ${sub.events.length} (after A back ${eventsAfterBack.a}, after B back ${eventsAfterBack.b}); ` +
      `served by a ${stats.served.a}, b ${stats.served.b}; max latency ${stats.maxLatencyMs} ms; ` +
      `HAProxy ${detection.join(', ')}; redis ${useRedis ? 'yes' : 'no'}; ${haproxyVersion}`;
    t.diagnostic(summary);
    t.diagnostic(`timeline (ms): ${timeline.map(([ms, what]) => `${ms} ${what}`).join('; ')}`);
    t.diagnostic(
      `draining answers (200 ms after SIGTERM, direct): ${Object.entries(drainAnswers)
        .map(([name, r]) => `${name}: ${r.status} ${r.body ?? r.error} connection=${r.connection}`)
        .join('; ')}`,
    );

    // --- Verdicts.
    assert.equal(
      stats.failed,
      0,
      `${stats.failed} of ${stats.sent} requests failed; the first ones:\n` +
        `${stats.failures.map((f) => JSON.stringify(f)).join('\n')}\n${showLogs()}`,
    );
    assert.deepEqual(mismatches, [], `the final state differs from the acknowledged writes\n${showLogs()}`);
    assert.equal(writesFound, stats.writesAcknowledged);
    for (const [name, answer] of Object.entries(drainAnswers)) {
      assert.equal(answer.status, 503, `instance ${name} draining: GET /readyz should be 503: ${JSON.stringify(answer)}`);
      assert.match(answer.body, /"draining"/, `instance ${name} draining: ${JSON.stringify(answer)}`);
      assert.equal(answer.connection, 'close', `instance ${name} draining: Connection: close expected`);
    }
    assert.deepEqual(sub.errors, [], 'the subscriber saw errors');
    assert.equal(sub.completed, null, 'the subscription completed (it should have gone on)');
    for (const close of closesWhileOpen) {
      assert.notEqual(close.reconnectedAt, undefined, `the subscriber did not reconnect after the close at ${close.at} ms`);
      assert.ok(
        sub.events.some((e) => e.at > close.reconnectedAt),
        `no event after the subscriber reconnected at ${close.reconnectedAt} ms`,
      );
    }
    assert.ok(closesWhileOpen.length >= 1, 'the subscriber was never moved: its instance should have sent it away');
    for (const [name, count] of Object.entries(eventsAfterBack)) {
      assert.ok(count > 0, `no subscription event after instance ${name} came back`);
    }
  } catch (error) {
    if (!String(error.message).includes('timeline (ms)')) error.message += `\n${showLogs()}`;
    throw error;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
    loadStopped = true;
    await Promise.race([Promise.allSettled(running), deadline(10_000)]);
    await Promise.resolve(wsClient?.dispose()).catch(() => {});
    // The instances: a second signal cuts their drain short.
    await Promise.all(
      Object.values(instances).map(async ({ child }) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await sleep(100);
        if (child.exitCode === null) child.kill('SIGTERM');
        await stopProcess(child);
      }),
    );
    if (haproxy) await stopProcess(haproxy);
    if (catalog) await stopProcess(catalog.child);
    if (databaseCreated) {
      await psql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch((error) =>
        console.error(`could not drop ${database}: ${error.message}`),
      );
    }
    if (useRedis) removeRedisKeys(redisPrefix);
    rmSync(work, { recursive: true, force: true });
  }
});
