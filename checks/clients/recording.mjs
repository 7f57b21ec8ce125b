// A fetch for a GraphQL client that records each request it makes and what came back, so a
// check can assert on what went over the wire and show it when something fails.
//
//   const recorder = recordingFetch();
//   new HttpLink({ fetch: recorder.fetch }); ... recorder.requests, recorder.describe(list)

export function recordingFetch() {
  // { method, url, body, status, contentType, text }
  const requests = [];

  async function fetchAndRecord(input, init = {}) {
    const entry = { method: init.method ?? 'GET', url: new URL(String(input)), body: init.body };
    requests.push(entry);
    const response = await fetch(input, init);
    entry.status = response.status;
    entry.contentType = response.headers.get('content-type');
    entry.text = await response.clone().text();
    return response;
  }

  /** The requests, one per line, each with the start of its answer. */
  const describe = (list = requests) =>
    list
      .map((r) => {
        const answer = r.text?.replace(/\s+/g, ' ').slice(0, 300);
        const request = `${r.method} ${r.url.pathname}${r.url.search} ${r.body ?? ''}`;
        return `${request}\n  -> ${r.status} ${r.contentType}: ${answer}`;
      })
      .join('\n');

  return { requests, fetch: fetchAndRecord, describe };
}
