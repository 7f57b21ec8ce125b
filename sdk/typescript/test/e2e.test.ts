// End to end: the release binary and the fake catalog, spoken to through the generated SDK
// only, so a schema or operation change that breaks callers fails here.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  AddFavoriteDocument,
  AddMyFavoriteDocument,
  ClientDocument,
  ClientsDocument,
  CreateClientDocument,
  DeleteClientDocument,
  FavoritesApi,
  FavoritesApiError,
  IssueClientTokenDocument,
  IssueTokenDocument,
  MergeGuestFavoritesDocument,
  MyFavoritesDocument,
  PopularProductsDocument,
  RemoveFavoriteDocument,
  RemoveMyFavoriteDocument,
  RevokeMyFavoritesShareDocument,
  ShareMyFavoritesDocument,
  SharedFavoritesDocument,
  SetMyFavoriteNoteDocument,
  StartGuestSessionDocument,
  UpdateClientDocument,
  ViewerDocument,
  type ClientsQuery,
  type ErrorCode,
} from '../src/index.js';

// Compiled to dist/test/, so the package is two levels up.
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const binary = resolve(packageDir, process.env.FAVORITES_API_BIN ?? '../../target/release/favorites-api');
const fakeCatalog = resolve(packageDir, '../../scripts/fake-catalog.mjs');

const PASSWORD = 'e2e-password';
// `printf '%s' e2e-password | favorites-api hash-password --cost 4`: cost 4 keeps logins fast.
const PASSWORD_HASH = '$2b$04$otlPn9IrbaSH5idZCJAwDe/qOg.8k7fzJQVb/kJqQJ2DsGPFPzvPm';
const PRODUCT_1 = 'Fjallraven - Foldsack No. 1 Backpack, Fits 15 Laptops';
const PRODUCT_5 = "John Hardy Women's Legends Naga Gold & Silver Dragon Station Chain Bracelet";

const children: ChildProcess[] = [];
let workDir: string | undefined;
let api: FavoritesApi;
let apiUrl: string;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((ready) => server.once('listening', ready));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

// Child output is kept, not echoed, and shown only when start-up fails.
function start(command: string, args: string[], options: Parameters<typeof spawn>[2]) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  return { child, log: () => log };
}

async function startCatalog(): Promise<number> {
  const { child, log } = start(process.execPath, [fakeCatalog], {});
  for await (const line of createInterface({ input: child.stdout! })) {
    const match = /^listening (\d+)$/.exec(line);
    if (match) return Number(match[1]);
  }
  throw new Error(`fake catalog exited without listening:\n${log()}`);
}

async function waitUntilReady(base: string, server: ChildProcess, log: () => string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`favorites-api exited (${server.exitCode}):\n${log()}`);
    const status = await fetch(`${base}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`favorites-api not ready after 30 s:\n${log()}`);
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function rejectsWith(code: ErrorCode, call: () => Promise<unknown>) {
  await assert.rejects(call, (error) => {
    assert.ok(error instanceof FavoritesApiError, `expected a FavoritesApiError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('favorites-api through the generated SDK', () => {
  before(async () => {
    if (!existsSync(binary)) {
      throw new Error(`no binary at ${binary}: run cargo build --release first (or set FAVORITES_API_BIN)`);
    }
    workDir = mkdtempSync(join(tmpdir(), 'favorites-sdk-e2e-'));
    const [catalogPort, port] = [await startCatalog(), await freePort()];
    // A fresh working directory, so neither the repository's .env nor a favorites.toml is read,
    // and only the variables below (plus PATH) reach the server.
    const server = start(binary, ['serve'], {
      cwd: workDir,
      env: {
        PATH: process.env.PATH,
        RUST_LOG: 'warn',
        DATABASE_URL: `sqlite://${workDir}/e2e.db?mode=rwc`,
        FAKESTOREAPI_URL: `http://127.0.0.1:${catalogPort}`,
        SECRET_KEY: 'e2e-signing-key-that-is-long-enough-0123456789',
        MASTER_USERNAME: 'admin',
        MASTER_PASSWORD_HASH: PASSWORD_HASH,
        LISTEN_ADDR: `127.0.0.1:${port}`,
      },
    });
    const base = `http://127.0.0.1:${port}`;
    await waitUntilReady(base, server.child, server.log);
    apiUrl = `${base}/graphql`;
    api = new FavoritesApi({ url: apiUrl });
  });

  after(async () => {
    await Promise.all(children.map(stop));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test('refuses a wrong password, then issues a token', async () => {
    await rejectsWith('UNAUTHENTICATED', () =>
      api.request(IssueTokenDocument, { username: 'admin', password: 'wrong' }),
    );
    const { issueToken } = await api.request(IssueTokenDocument, { username: 'admin', password: PASSWORD });
    assert.equal(issueToken.tokenType, 'Bearer');
    assert.ok(Date.parse(issueToken.expiresAt) > Date.now());
    api = api.withToken(issueToken.accessToken);
  });

  test('favorites: add, read back with catalog details, remove', async () => {
    const { createClient: ana } = await api.request(CreateClientDocument, {
      input: { name: 'Ana Silva', email: 'Ana@Example.com' },
    });
    assert.equal(ana.email, 'ana@example.com');

    await api.request(AddFavoriteDocument, { clientId: ana.id, productId: 1 });
    const added = await api.request(AddFavoriteDocument, { clientId: ana.id, productId: 5 });
    assert.equal(added.addFavorite.favorites.totalCount, 2);
    await rejectsWith('PRODUCT_NOT_FOUND', () =>
      api.request(AddFavoriteDocument, { clientId: ana.id, productId: 999 }),
    );

    const { client } = await api.request(ClientDocument, { id: ana.id });
    assert.ok(client);
    assert.deepEqual(
      client.favorites.nodes.map((f) => [f.productId, f.product?.title]),
      [[1, PRODUCT_1], [5, PRODUCT_5]],
    );
    assert.equal(client.favorites.nodes[0]?.product?.price, 109.95);
    assert.equal(client.favorites.nodes[0]?.priceWhenAdded, 109.95);
    const { popularProducts } = await api.request(PopularProductsDocument, { first: 2 });
    assert.deepEqual(
      popularProducts.map((p) => [p.productId, p.favoritesCount, p.product?.title]),
      [[1, 1, PRODUCT_1], [5, 1, PRODUCT_5]],
    );

    const removed = await api.request(RemoveFavoriteDocument, { clientId: ana.id, productId: 1 });
    assert.deepEqual(removed.removeFavorite.favorites.nodes.map((f) => f.productId), [5]);
  });

  test('pages through every client exactly once', async () => {
    for (let i = 1; i <= 5; i++) {
      await api.request(CreateClientDocument, { input: { name: `Client ${i}`, email: `client${i}@example.com` } });
    }
    const seen: string[] = [];
    let totalCount = 0;
    let cursor: string | null = null;
    do {
      const { clients }: ClientsQuery = await api.request(ClientsDocument, { first: 2, after: cursor });
      assert.ok(clients.nodes.length <= 2);
      seen.push(...clients.nodes.map((c) => c.email));
      totalCount = clients.totalCount;
      cursor = clients.pageInfo.hasNextPage ? clients.pageInfo.endCursor : null;
    } while (cursor);
    assert.equal(totalCount, 6); // Ana and the five above
    assert.equal(new Set(seen).size, seen.length, `a client was seen twice: ${seen}`);
    assert.deepEqual(seen, [
      'ana@example.com',
      ...[1, 2, 3, 4, 5].map((i) => `client${i}@example.com`),
    ]);
  });

  test('updates and deletes a client', async () => {
    const { createClient: bo } = await api.request(CreateClientDocument, {
      input: { name: 'Bo', email: 'bo@example.com' },
    });
    const { updateClient } = await api.request(UpdateClientDocument, {
      id: bo.id,
      input: { name: 'Bo Lindqvist' },
    });
    assert.equal(updateClient.name, 'Bo Lindqvist');
    assert.equal(updateClient.email, 'bo@example.com'); // absent fields stay as they are

    const { deleteClient } = await api.request(DeleteClientDocument, { id: bo.id });
    assert.equal(deleteClient, bo.id);
    assert.equal((await api.request(ClientDocument, { id: bo.id })).client, null);
    await rejectsWith('NOT_FOUND', () => api.request(UpdateClientDocument, { id: bo.id, input: { name: 'x' } }));
  });

  test("a shopper's session: a client token reads and changes its own list, and nothing else", async () => {
    const { createClient: carla } = await api.request(CreateClientDocument, {
      input: { name: 'Carla', email: 'carla@example.com' },
    });
    const { createClient: dora } = await api.request(CreateClientDocument, {
      input: { name: 'Dora', email: 'dora@example.com' },
    });
    await api.request(AddFavoriteDocument, { clientId: dora.id, productId: 1 });

    // The store's backend (the admin) mints a token for the shopper it has authenticated...
    const { issueClientToken } = await api.request(IssueClientTokenDocument, {
      clientId: carla.id,
      expiresInMinutes: 30,
    });
    assert.equal(issueClientToken.tokenType, 'Bearer');
    const minutesLeft = (Date.parse(issueClientToken.expiresAt) - Date.now()) / 60_000;
    assert.ok(minutesLeft > 28 && minutesLeft <= 30, `expires in ${minutesLeft} min`);
    // ...and the browser uses it.
    const browser = api.withToken(issueClientToken.accessToken);

    const { viewer } = await browser.request(ViewerDocument);
    assert.equal(viewer?.id, carla.id);
    assert.equal(viewer?.favorites.totalCount, 0);
    await browser.request(AddFavoriteDocument, { clientId: carla.id, productId: 5 });
    const { viewer: withFive } = await browser.request(ViewerDocument);
    assert.deepEqual(withFive?.favorites.nodes.map((f) => [f.productId, f.product?.title]), [[5, PRODUCT_5]]);
    const removed = await browser.request(RemoveFavoriteDocument, { clientId: carla.id, productId: 5 });
    assert.equal(removed.removeFavorite.favorites.totalCount, 0);

    // Another client's data: refused, whatever the operation.
    await rejectsWith('FORBIDDEN', () => browser.request(ClientDocument, { id: dora.id }));
    await rejectsWith('FORBIDDEN', () => browser.request(RemoveFavoriteDocument, { clientId: dora.id, productId: 1 }));
    await rejectsWith('FORBIDDEN', () => browser.request(ClientsDocument, { first: 10 }));
    await rejectsWith('FORBIDDEN', () => browser.request(IssueClientTokenDocument, { clientId: carla.id }));
    const { client: doraNow } = await api.request(ClientDocument, { id: dora.id });
    assert.equal(doraNow?.favorites.totalCount, 1);

    // The admin has no client of its own.
    assert.equal((await api.request(ViewerDocument)).viewer, null);
  });

  test('a share link: made by the shopper, opened without a token, revoked', async () => {
    const { createClient: erin } = await api.request(CreateClientDocument, {
      input: { name: 'Erin', email: 'erin@example.com' },
    });
    const { issueClientToken } = await api.request(IssueClientTokenDocument, { clientId: erin.id });
    const shopper = api.withToken(issueClientToken.accessToken);
    await shopper.request(AddMyFavoriteDocument, { productId: 1, note: 'size M' });
    await shopper.request(AddMyFavoriteDocument, { productId: 5 });
    const { shareMyFavorites } = await shopper.request(ShareMyFavoritesDocument, {});
    assert.equal(shareMyFavorites.token.length, 43);
    assert.equal(shareMyFavorites.includeNotes, false);

    // A friend opens the link: no token at all.
    const friend = new FavoritesApi({ url: apiUrl });
    const { sharedFavorites } = await friend.request(SharedFavoritesDocument, {
      token: shareMyFavorites.token,
      orderBy: 'PRICE_DESC',
    });
    assert.equal(sharedFavorites?.ownerName, 'Erin');
    assert.deepEqual(
      sharedFavorites?.favorites.nodes.map((f) => [f.productId, f.note, f.product?.title]),
      [[5, null, PRODUCT_5], [1, null, PRODUCT_1]],
    );

    const { revokeMyFavoritesShare } = await shopper.request(RevokeMyFavoritesShareDocument);
    assert.equal(revokeMyFavoritesShare, true);
    const after = await friend.request(SharedFavoritesDocument, { token: shareMyFavorites.token });
    assert.equal(after.sharedFavorites, null);
  });

  test('a taken e-mail is a typed EMAIL_TAKEN error', async () => {
    await rejectsWith('EMAIL_TAKEN', () =>
      api.request(CreateClientDocument, { input: { name: 'Another Ana', email: 'ana@example.com' } }),
    );
  });

  test('a guest keeps a list before logging in, and it joins the client\'s list at login', async () => {
    // No token needed to start: the storefront keeps the guest token (a cookie, local storage).
    const anonymous = new FavoritesApi({ url: apiUrl });
    const { startGuestSession } = await anonymous.request(StartGuestSessionDocument);
    assert.equal(startGuestSession.tokenType, 'Bearer');
    const daysLeft = (Date.parse(startGuestSession.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(daysLeft > 29 && daysLeft <= 30, `expires in ${daysLeft} days`);
    const guest = api.withToken(startGuestSession.accessToken);
    assert.equal((await guest.request(MyFavoritesDocument)).myFavorites.totalCount, 0);
    const noted = await guest.request(AddMyFavoriteDocument, { productId: 5, note: ' for Mum ' });
    assert.deepEqual(
      noted.addMyFavorite.nodes.map((f) => [f.note, f.available, f.priceDrop]),
      [['for Mum', true, null]],
    );
    await rejectsWith('BAD_USER_INPUT', () => guest.request(SetMyFavoriteNoteDocument, { productId: 5, note: 'a\nb' }));
    const added = await guest.request(AddMyFavoriteDocument, { productId: 1 });
    assert.deepEqual(added.addMyFavorite.nodes.map((f) => [f.productId, f.product?.title]), [[5, PRODUCT_5], [1, PRODUCT_1]]);
    const removed = await guest.request(RemoveMyFavoriteDocument, { productId: 1 });
    assert.equal(removed.removeMyFavorite.totalCount, 1);
    await rejectsWith('PRODUCT_NOT_FOUND', () => guest.request(AddMyFavoriteDocument, { productId: 999 }));
    // A guest acts on its own list only.
    await rejectsWith('FORBIDDEN', () => guest.request(ClientsDocument, { first: 1 }));

    // The shopper logs in: the store's backend mints a client token, the storefront merges.
    const { createClient: eva } = await api.request(CreateClientDocument, {
      input: { name: 'Eva', email: 'eva@example.com' },
    });
    const { issueClientToken } = await api.request(IssueClientTokenDocument, { clientId: eva.id });
    const shopper = api.withToken(issueClientToken.accessToken);
    await shopper.request(AddMyFavoriteDocument, { productId: 1 });
    const { mergeGuestFavorites } = await shopper.request(MergeGuestFavoritesDocument, {
      guestToken: startGuestSession.accessToken,
    });
    // Oldest first: the guest saved product 5 before the shopper saved product 1.
    assert.deepEqual(mergeGuestFavorites.nodes.map((f) => f.productId), [5, 1]);
    const { myFavorites } = await shopper.request(MyFavoritesDocument, { first: 10 });
    assert.deepEqual(myFavorites.nodes.map((f) => [f.productId, f.note]), [[5, 'for Mum'], [1, null]]);
    // Product 5 (695) is dearer than product 1 (109.95).
    const cheapest = await shopper.request(MyFavoritesDocument, { orderBy: 'PRICE_ASC' });
    assert.deepEqual(cheapest.myFavorites.nodes.map((f) => f.productId), [1, 5]);
    // The guest token is spent; merging it again changes nothing.
    await rejectsWith('UNAUTHENTICATED', () => guest.request(MyFavoritesDocument));
    const again = await shopper.request(MergeGuestFavoritesDocument, { guestToken: startGuestSession.accessToken });
    assert.equal(again.mergeGuestFavorites.totalCount, 2);
    await rejectsWith('BAD_USER_INPUT', () => shopper.request(MergeGuestFavoritesDocument, { guestToken: 'forged' }));
  });
});
