// Starts the release binary for a check: SQLite in a temporary directory (also its working
// directory, so no .env or favorites.toml is read), scripts/fake-catalog.mjs on loopback, a
// password of the check's own. Shared by checks/http/, checks/clients/ and checks/browser/.
//
//   const api = await startApi('favorites-http-check-');
//   api.url, api.wsUrl, api.token() (an admin token), api.log(), await api.stop()
//   startApi(prefix, { env: { GRAPHIQL_ASSETS_DIR: dir } }) adds settings.
//
// FAVORITES_API_BIN names another binary (default target/release/favorites-api, from the repo
// root). Start-up failures throw with the server's (or the catalog's) output.
//
// For a check that runs its own processes (checks/rolling/: two instances and HAProxy), the
// pieces are exported too: startProcess, stopProcess, freePort, startCatalog.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../', import.meta.url));
export const bin = path.resolve(repo, process.env.FAVORITES_API_BIN ?? 'target/release/favorites-api');

export const USERNAME = 'admin';
export const PASSWORD = 'node-check-password';

const children = new Set();
// Whatever happens to this process, its children go with it.
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Starts a process whose output is kept (the last 400 chunks), shown when something fails. */
function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  const log = [];
  const keep = (chunk) => {
    log.push(chunk.toString());
    if (log.length > 400) log.splice(0, log.length - 400);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    // A process that could not start has no 'exit' to wait for.
    child.on('error', (error) => {
      keep(`${command}: ${error.message}\n`);
      resolve({ code: null, signal: 'spawn failed' });
    });
  });
  child.text = () => log.join('');
  children.add(child);
  return child;
}

async function stop(child) {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await child.exited;
    clearTimeout(timer);
  }
  children.delete(child);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 100 ms until it returns something truthy (which it resolves with). */
export async function until(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs a command to its end; resolves with its stdout, rejects with its output. */
export async function runToEnd(command, args, { input } = {}) {
  const child = start(command, args);
  const stdout = [];
  child.stdout.on('data', (chunk) => stdout.push(chunk));
  child.stdin.end(input ?? '');
  const { code, signal } = await child.exited;
  children.delete(child);
  if (code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${child.text()}`);
  }
  return Buffer.concat(stdout).toString();
}

async function startCatalog() {
  const catalog = start(process.execPath, [path.join(repo, 'scripts/fake-catalog.mjs'), '--port', '0']);
  const port = await until('the fake catalog', 10_000, () => {
    if (catalog.exitCode !== null) throw new Error(`the fake catalog exited:\n${catalog.text()}`);
    return catalog.text().match(/listening (\d+)/)?.[1];
  }).catch(async (error) => {
    await stop(catalog);
    throw new Error(`${error.message}\nthe fake catalog's output:\n${catalog.text() || '(none)'}`);
  });
  return { child: catalog, url: `http://127.0.0.1:${port}` };
}

/** The API, ready (GET /readyz = 200), with an admin token at hand; `env` adds settings. */
export async function startApi(prefix, { env = {} } = {}) {
  if (!existsSync(bin)) {
    throw new Error(`no binary at ${bin}: cargo build --release, or set FAVORITES_API_BIN`);
  }
  const work = mkdtempSync(path.join(tmpdir(), prefix));
  let server;
  let catalog;
  const stopAll = async () => {
    await Promise.all([server, catalog?.child].filter(Boolean).map(stop));
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const hash = (await runToEnd(bin, ['hash-password', '--cost', '4'], { input: PASSWORD })).trim();
    catalog = await startCatalog();
    const port = await freePort();
    server = start(bin, ['serve'], {
      cwd: work, // not the repo: its .env must not count
      env: {
        PATH: process.env.PATH,
        RUST_LOG: 'warn',
        DATABASE_URL: `sqlite://${path.join(work, 'check.db')}?mode=rwc`,
        FAKESTOREAPI_URL: catalog.url,
        SECRET_KEY: 'node-check-signing-key-0123456789abcdefghij',
        MASTER_USERNAME: USERNAME,
        MASTER_PASSWORD_HASH: hash,
        LISTEN_ADDR: `127.0.0.1:${port}`,
        ...env,
      },
    });
    const url = `http://127.0.0.1:${port}`;
    await until('GET /readyz = 200', 30_000, async () => {
      if (server.exitCode !== null || server.signalCode !== null) {
        throw new Error(`${bin} exited (${server.exitCode ?? server.signalCode})`);
      }
      try {
        return (await fetch(`${url}/readyz`)).status === 200;
      } catch {
        return false;
      }
    });

    // The REST door: an admin token with no GraphQL involved.
    const response = await fetch(`${url}/api/v1/auth/master-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: USERNAME, password: PASSWORD }),
    });
    const answer = await response.text();
    if (response.status !== 200) {
      throw new Error(`POST /api/v1/auth/master-token: HTTP ${response.status}: ${answer}`);
    }
    const token = JSON.parse(answer).access_token;
    if (!token) throw new Error(`POST /api/v1/auth/master-token: no access_token in ${answer}`);

    return {
      url,
      graphqlUrl: `${url}/graphql`,
      wsUrl: `ws://127.0.0.1:${port}/graphql/ws`,
      token: () => token,
      log: () => server.text(),
      stop: stopAll,
    };
  } catch (error) {
    const logs = [
      server && `favorites-api's output:\n${server.text() || '(none)'}`,
      catalog && `the fake catalog's output:\n${catalog.child.text() || '(none)'}`,
    ];
    await stopAll();
    error.message = `favorites-api did not start: ${error.message}\n${logs.filter(Boolean).join('\n')}`;
    throw error;
  }
}

export { start as startProcess, stop as stopProcess, freePort, startCatalog };
