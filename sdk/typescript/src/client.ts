import type { TypedDocumentString } from './generated/graphql.js';

import { ERROR_CODES } from './error-codes.js';

export { ERROR_CODES };

/** `UNKNOWN` is the SDK's own: no code it knows (a newer server, or a proxy's non-GraphQL reply). */
export type ErrorCode = (typeof ERROR_CODES)[number] | 'UNKNOWN';

/** One entry of a GraphQL response's `errors`, as the server sent it. */
export interface GraphQLErrorPayload {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * Thrown whenever a response carries errors. `code` and `message` come from the first error;
 * `data` keeps any partial result (e.g. a client whose favorite's `product` failed upstream).
 */
export class FavoritesApiError extends Error {
  override name = 'FavoritesApiError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors: GraphQLErrorPayload[],
    readonly data: unknown,
    readonly status: number,
  ) {
    super(message);
  }
}

const isKnownCode = (code: unknown): code is ErrorCode =>
  (ERROR_CODES as readonly unknown[]).includes(code);

// Operations without required variables may be called without a variables argument.
type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

export interface FavoritesApiOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:8000/graphql`. */
  url: string;
  /** A token from `IssueTokenDocument` (the admin), `IssueClientTokenDocument` (one client) or
   * the store's identity provider; every operation but `IssueTokenDocument` needs one. */
  token?: string;
  /** Injectable for tests or other runtimes; defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

export class FavoritesApi {
  constructor(private readonly options: FavoritesApiOptions) {}

  /** A new client that sends `token`; this one is left as it was, so a shared instance never
   * changes under its other users. */
  withToken(token: string): FavoritesApi {
    return new FavoritesApi({ ...this.options, token });
  }

  async request<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    ...[variables]: VariablesArg<TVariables>
  ): Promise<TResult> {
    const { url, token, fetch: doFetch = fetch } = this.options;
    const response = await doFetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
    // Refusals made before GraphQL runs (413, 415, 400 ...) still answer GraphQL-shaped JSON,
    // but anything in between (a proxy, a crash) may not.
    const body = (await response.json().catch(() => null)) as {
      data?: TResult | null;
      errors?: GraphQLErrorPayload[];
    } | null;
    const errors = body?.errors ?? [];
    const [first] = errors;
    if (first) {
      const code = isKnownCode(first.extensions?.code) ? first.extensions.code : 'UNKNOWN';
      throw new FavoritesApiError(code, first.message, errors, body?.data ?? null, response.status);
    }
    if (!response.ok || body?.data == null) {
      throw new FavoritesApiError('UNKNOWN', `HTTP ${response.status} without GraphQL data`, [], null, response.status);
    }
    return body.data;
  }
}
