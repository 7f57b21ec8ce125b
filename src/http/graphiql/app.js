// Boots GraphiQL for favorites-api: GET /graphql serves the page, this script renders GraphiQL
// against POST /graphql. It is a file of its own, not an inline script, so the page works under a
// Content-Security-Policy without 'unsafe-inline' for scripts.
//
// Getting a token is the first step, so the page starts with the issueToken mutation and the
// Headers tab open on an Authorization header to fill in. When an answer carries an
// accessToken, it is put into that header by itself. The demo login is filled in only while the
// server uses the demo password (it says so in data-demo-login). Nothing the page holds (the
// editors, tabs, history, headers) goes into the browser's storage: a password typed into
// issueToken would otherwise stay in localStorage.
(function () {
  'use strict';

  var ENDPOINT = '/graphql';
  var PLACEHOLDER = 'Bearer <accessToken from issueToken>';

  var root = document.getElementById('graphiql');
  var demoLogin = root.getAttribute('data-demo-login') === 'true';

  var DEFAULT_QUERY = [
    '# favorites-api. Every operation but issueToken needs',
    '# a bearer token:',
    '# 1. Run this mutation (the run button, or Ctrl-Enter)',
    demoLogin
      ? "#    with your admin login (here: the demo .env's)."
      : '#    with your admin username and password.',
    '# 2. The accessToken it returns goes into the',
    '#    Authorization header (Headers, below) by itself.',
    '#    Or paste it there: "Bearer <accessToken>".',
    '# 3. Run anything else, for example:',
    '#    { clients { totalCount nodes { id name email } } }',
    '',
    'mutation {',
    '  issueToken(',
    demoLogin ? '    username: "favorite_products_admin"' : '    username: "<username>"',
    demoLogin ? '    password: "favorite_products_password"' : '    password: "<password>"',
    '  ) {',
    '    accessToken',
    '    expiresAt',
    '  }',
    '}',
    '',
  ].join('\n');

  // GraphiQL's storage, in memory: gone when the page is.
  var memory = {};
  var storage = {
    getItem: function (key) {
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
    },
    setItem: function (key, value) {
      memory[key] = String(value);
    },
    removeItem: function (key) {
      delete memory[key];
    },
    clear: function () {
      memory = {};
    },
    get length() {
      return Object.keys(memory).length;
    },
  };

  document.body.style.margin = '0';
  root.style.height = '100vh';

  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    root.textContent =
      'GraphiQL could not load its scripts (React, ReactDOM, GraphiQL). Without access to the ' +
      'CDN, serve them locally: scripts/graphiql-assets DIR, then GRAPHIQL_ASSETS_DIR=DIR. ' +
      'The API itself answers POST requests on /graphql.';
    return;
  }
  var React = window.React;
  var GraphiQL = window.GraphiQL;

  var token = null; // the last accessToken an answer brought, while this page is open
  var headersText = JSON.stringify({ Authorization: PLACEHOLDER }, null, 2); // the editor's text
  var setHeaders = null; // replaces the editor's text (set once the page renders)

  function authorizationKey(headers) {
    return Object.keys(headers).find(function (key) {
      return key.toLowerCase() === 'authorization';
    });
  }

  // The placeholder (or any text with "<" in it: no token has one) is never sent: it is the
  // token seen last, or no Authorization header at all.
  function withToken(headers) {
    var key = authorizationKey(headers);
    if (key !== undefined && String(headers[key]).indexOf('<') !== -1) {
      if (token) headers[key] = 'Bearer ' + token;
      else delete headers[key];
    }
    return headers;
  }

  // An accessToken among the answer's top-level fields (issueToken, under any alias).
  function tokenIn(result) {
    var data = result && result.data;
    var found = null;
    if (data && typeof data === 'object') {
      Object.keys(data).forEach(function (key) {
        var value = data[key];
        if (value && typeof value.accessToken === 'string') found = value.accessToken;
      });
    }
    return found;
  }

  // Puts a new token into the Headers editor, keeping any other header. Text that is not a
  // JSON object is the user's work in progress: left alone.
  function showToken(newToken) {
    var headers;
    try {
      headers = JSON.parse(headersText || '{}');
    } catch (error) {
      return;
    }
    if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return;
    headers[authorizationKey(headers) || 'Authorization'] = 'Bearer ' + newToken;
    headersText = JSON.stringify(headers, null, 2);
    if (setHeaders) setHeaders(headersText);
  }

  function fetcher(params, options) {
    var headers = new Headers({ 'Content-Type': 'application/json', Accept: 'application/json' });
    var own = withToken(Object.assign({}, options && options.headers));
    Object.keys(own).forEach(function (key) {
      headers.set(key, String(own[key]));
    });
    return fetch(ENDPOINT, { method: 'POST', headers: headers, body: JSON.stringify(params) })
      .then(function (response) {
        return response.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch (error) {
            return { errors: [{ message: 'HTTP ' + response.status + ': ' + text }] };
          }
        });
      })
      .then(function (result) {
        var newToken = tokenIn(result);
        if (newToken) {
          token = newToken;
          showToken(newToken);
        }
        return result;
      });
  }

  function App() {
    // GraphiQL replaces the Headers editor's text whenever its `headers` prop changes; a new
    // tab starts with `defaultHeaders`.
    var state = React.useState(headersText);
    setHeaders = state[1];
    return React.createElement(
      GraphiQL,
      {
        fetcher: fetcher,
        defaultQuery: DEFAULT_QUERY,
        headers: state[0],
        defaultHeaders: state[0],
        onEditHeaders: function (text) {
          headersText = text;
        },
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        storage: storage,
        defaultEditorToolsVisibility: 'headers',
      },
      GraphiQL.Logo ? React.createElement(GraphiQL.Logo, null, 'favorites-api') : null
    );
  }

  window.ReactDOM.createRoot(root).render(React.createElement(App));
})();
