#!/usr/bin/env node
// A stand-in for FakeStoreAPI on loopback, for the SDK, browser and benchmark runs (the Rust
// suite has its own, in wiremock). It serves the committed fixture with the real API's quirk:
// an unknown or non-numeric id answers 200 with an empty body.
//
//   node scripts/fake-catalog.mjs [--port N] [--delay-ms N]
//
// Prints `listening <port>` once ready, so a caller can use port 0 and read the port back.
// `--delay-ms` holds every answer that long (a distant or slow catalog, for bench/run's cold
// burst); `GET /__requests` answers how many product requests it has served.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../tests/fixtures/fakestore-products.json', import.meta.url));
const products = JSON.parse(readFileSync(fixture, 'utf8'));
const byId = new Map(products.map((product) => [String(product.id), JSON.stringify(product)]));
const all = JSON.stringify(products);

const portFlag = process.argv.indexOf('--port');
const port = portFlag === -1 ? 0 : Number(process.argv[portFlag + 1]);
const delayFlag = process.argv.indexOf('--delay-ms');
const delayMs = delayFlag === -1 ? 0 : Number(process.argv[delayFlag + 1]);
let served = 0;

const server = createServer((request, response) => {
  const path = new URL(request.url, 'http://catalog').pathname.replace(/\/+$/, '');
  const json = (body) => {
    served += 1;
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
    }, delayMs);
  };
  if (request.method === 'GET' && path === '/__requests') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(String(served));
  } else if (request.method !== 'GET') {
    response.writeHead(405).end();
  } else if (path === '/products') {
    json(all);
  } else if (path.startsWith('/products/')) {
    json(byId.get(path.slice('/products/'.length)) ?? '');
  } else {
    response.writeHead(404).end();
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
