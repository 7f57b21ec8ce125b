// @urql/core against the release binary, as configured out of the box (so queries go over GET
// while the URL is short, mutations over POST), the token set through fetchOptions: one
// mutation (createClient) and one query (client by id) that reads it back.
//
//   npm ci --prefix checks/clients && npm test --prefix checks/clients
//
// Environment (optional): FAVORITES_API_BIN, the binary (default target/release/favorites-api).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';

import { startApi } from '../../scripts/start-api.mjs';
import { recordingFetch } from './recording.mjs';

const CREATE_CLIENT = gql`
  mutation CreateClient($input: CreateClientInput!) {
    createClient(input: $input) { id name email }
  }
`;
const CLIENT = gql`
  query Client($id: UUID!) {
    client(id: $id) { id name email }
  }
`;

let api;
const recorder = recordingFetch();
const { requests } = recorder;
const describeRequests = recorder.describe;

before(async () => {
  api = await startApi('favorites-urql-check-');
});

after(async () => {
  if (process.exitCode && api) {
    console.error(`favorites-api's log (last lines):\n${api.log().slice(-4000) || '(empty)'}`);
  }
  await api?.stop();
});

const brief = (error) => String(error.message).replace(/\s+/g, ' ').slice(0, 200);

test('@urql/core: a mutation and a query, the token through fetchOptions', { timeout: 30_000 }, async () => {
  const client = new Client({
    url: api.graphqlUrl,
    exchanges: [cacheExchange, fetchExchange],
    fetch: recorder.fetch,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${api.token()}` } }),
  });

  const created = await client
    .mutation(CREATE_CLIENT, { input: { name: 'Urql Shopper', email: 'urql@client-check.example' } })
    .toPromise();
  if (created.error) {
    assert.fail(`mutation CreateClient: ${brief(created.error)}\n${describeRequests(requests)}`);
  }
  const { id } = created.data.createClient;
  // urql's document cache asks for __typename too.
  const expected = { __typename: 'Client', id, name: 'Urql Shopper', email: 'urql@client-check.example' };
  assert.deepEqual(created.data.createClient, expected);

  const from = requests.length;
  const read = await client.query(CLIENT, { id }, { requestPolicy: 'network-only' }).toPromise();
  const sent = describeRequests(requests.slice(from));
  if (read.error) assert.fail(`query Client: ${brief(read.error)}\n${sent}`);
  assert.deepEqual(read.data.client, expected, sent);
});
