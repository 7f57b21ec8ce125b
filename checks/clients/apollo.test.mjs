// Apollo Client 4 against the release binary, set up the way a storefront would: an HttpLink
// behind the automatic persisted-queries link (hashed queries over GET), and graphql-ws (the
// graphql-transport-ws protocol, `ws` as its WebSocket) for subscriptions, split by operation
// type. The token goes in the Authorization header and in connection_init's payload.
//
// Scenario: create a client, subscribe to its favorites, add product 1, read the list back with
// product titles (twice: the second read must be served by a hash-only GET alone).
//
//   npm ci --prefix checks/clients && npm test --prefix checks/clients
//
// Environment (optional): FAVORITES_API_BIN, the binary (default target/release/favorites-api).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { isSubscriptionOperation } from '@apollo/client/utilities';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

import { startApi } from '../../scripts/start-api.mjs';
import { recordingFetch } from './recording.mjs';

const PRODUCT_1 = 'Fjallraven - Foldsack No. 1 Backpack, Fits 15 Laptops';

const CREATE_CLIENT = gql`
  mutation CreateClient($input: CreateClientInput!) {
    createClient(input: $input) { id }
  }
`;
const ADD_FAVORITE = gql`
  mutation AddFavorite($clientId: UUID!, $productId: Int!) {
    addFavorite(clientId: $clientId, productId: $productId) { id }
  }
`;
const CLIENT_FAVORITES = gql`
  query ClientFavorites($id: UUID!) {
    client(id: $id) { id favorites { nodes { productId product { title } } } }
  }
`;
const FAVORITES_CHANGED = gql`
  subscription FavoritesChanged($id: UUID!) {
    favoritesChanged(clientId: $id) { id favorites { nodes { productId } } }
  }
`;

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

let api;
let client;
let wsClient;
const recorder = recordingFetch(); // every HTTP request Apollo made
const { requests } = recorder;
const describeRequests = recorder.describe;
const socketMessages = []; // every message sent over the WebSocket, parsed

before(async () => {
  api = await startApi('favorites-apollo-check-');
});

after(async () => {
  client?.stop();
  await wsClient?.dispose();
  if (process.exitCode && api) {
    console.error(`favorites-api's log (last lines):\n${api.log().slice(-4000) || '(empty)'}`);
  }
  await api?.stop();
});

/** The WebSocket graphql-ws uses, remembering what it sends. */
class RecordingWebSocket extends WebSocket {
  send(data, ...rest) {
    socketMessages.push(JSON.parse(String(data)));
    return super.send(data, ...rest);
  }
}

/** A GET carrying only the hash: extensions.persistedQuery, and no query parameter. */
function isHashOnlyGet(request) {
  if (request.method !== 'GET' || request.url.searchParams.has('query')) return false;
  const extensions = request.url.searchParams.get('extensions');
  try {
    return Boolean(JSON.parse(extensions)?.persistedQuery?.sha256Hash);
  } catch {
    return false;
  }
}

function nextEvent(observable, what, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = observable.subscribe({
      next: (result) => {
        clearTimeout(timer);
        resolve({ result, subscription });
      },
      error: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
  });
}

test('Apollo Client 4: persisted queries over GET, graphql-ws subscriptions', { timeout: 60_000 }, async () => {
  const token = api.token();

  let pongs = 0;
  let onPong;
  wsClient = createWsClient({
    url: api.wsUrl,
    webSocketImpl: RecordingWebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: {
      pong: () => {
        pongs += 1;
        onPong?.();
      },
    },
  });
  let socket;
  wsClient.on('connected', (opened) => (socket = opened));

  const httpLink = new HttpLink({
    uri: api.graphqlUrl,
    headers: { authorization: `Bearer ${token}` },
    fetch: recorder.fetch,
  });
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: true });
  client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.split(
      ({ query }) => isSubscriptionOperation(query),
      new GraphQLWsLink(wsClient),
      persisted.concat(httpLink),
    ),
  });

  // 1. A client (a mutation: POST, hash first, then the query on PERSISTED_QUERY_NOT_FOUND).
  const created = await client.mutate({
    mutation: CREATE_CLIENT,
    variables: { input: { name: 'Apollo Shopper', email: 'apollo@client-check.example' } },
  });
  const id = created.data?.createClient?.id;
  assert.ok(id, `createClient answered ${JSON.stringify(created)}\n${describeRequests(requests)}`);

  // 2. Subscribe, and wait until the server has read the subscription: graphql-ws sent it, then
  //    a ping of ours, and the pong came back (the server reads a socket's messages in order).
  const events = client.subscribe({ query: FAVORITES_CHANGED, variables: { id } });
  const firstEvent = nextEvent(events, 'favoritesChanged event');
  firstEvent.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const deadline = Date.now() + 5_000;
  while (!socketMessages.some((m) => m.type === 'subscribe')) {
    if (Date.now() > deadline) assert.fail(`graphql-ws sent no subscribe: ${JSON.stringify(socketMessages)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const init = socketMessages.find((m) => m.type === 'connection_init');
  assert.deepEqual(init?.payload, { Authorization: `Bearer ${token}` });
  const pongsBefore = pongs;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no pong from the server within 5 s')), 5_000);
    onPong = () => {
      if (pongs > pongsBefore) {
        clearTimeout(timer);
        resolve();
      }
    };
    socket.send(JSON.stringify({ type: 'ping' }));
  });

  // 3. Add product 1; the subscriber hears of it.
  const added = await client.mutate({ mutation: ADD_FAVORITE, variables: { clientId: id, productId: 1 } });
  assert.equal(added.data?.addFavorite?.id, id);
  const { result: event, subscription } = await firstEvent;
  subscription.unsubscribe();
  assert.equal(event.error, undefined, `the subscription answered an error: ${event.error}`);
  assert.deepEqual(event.data?.favoritesChanged?.favorites?.nodes?.map((node) => node.productId), [1]);
  assert.equal(event.data.favoritesChanged.id, id);

  // 4. Read it back with product titles: a hashed query, so a GET; the first time the server
  //    does not know the hash yet and Apollo resends it with the query.
  const readBack = async () => {
    const from = requests.length;
    try {
      const { data } = await client.query({
        query: CLIENT_FAVORITES,
        variables: { id },
        fetchPolicy: 'network-only',
      });
      return { data, sent: requests.slice(from) };
    } catch (error) {
      const sent = describeRequests(requests.slice(from));
      throw new Error(`query ClientFavorites failed: ${error}\nrequests:\n${sent}`);
    }
  };
  const first = await readBack();
  assert.deepEqual(
    first.data.client.favorites.nodes.map((node) => [node.productId, node.product?.title]),
    [[1, PRODUCT_1]],
  );
  assert.ok(first.sent.some(isHashOnlyGet), `no hash-only GET was sent:\n${describeRequests(first.sent)}`);

  // 5. Again: now the hash alone, over GET, is enough (one request, answered with the data).
  const second = await readBack();
  assert.deepEqual(second.data, first.data);
  assert.equal(second.sent.length, 1, `expected one hash-only GET:\n${describeRequests(second.sent)}`);
  assert.ok(isHashOnlyGet(second.sent[0]), describeRequests(second.sent));
  assert.equal(second.sent[0].status, 200, describeRequests(second.sent));
});
