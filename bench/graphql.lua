-- wrk script for bench/run: POSTs GraphQL to /graphql and counts real failures.
--
-- Environment (read by every wrk thread):
--   BENCH_MODE   query  : one fixed document, BENCH_QUERY (the default)
--                client : BENCH_QUERY with {"id": <next id of BENCH_IDS>} as variables
--                shared : BENCH_QUERY with {"token": <next share token of BENCH_SHARES>}
--                mutate : addFavorite / removeFavorite pairs over BENCH_IDS (see below)
--                mixed  : mode client, with one request in BENCH_WRITE_EVERY an addFavorite or a
--                         removeFavorite that toggles a product on one of the same clients
--   BENCH_QUERY  the GraphQL document
--   BENCH_IDS    file with one client id a line (modes client, mutate and mixed)
--   BENCH_SHARES file with one share link token a line (mode shared)
--   BENCH_TOKEN  bearer token (optional; empty or unset sends no Authorization header)
--   BENCH_ACCEPT_ENCODING  Accept-Encoding to send (optional; unset sends none: raw answers)
--   BENCH_WRITE_EVERY  mode mixed: one write in this many requests (default 20, i.e. 5 %)
--                storm  : addFavorite or removeFavorite (even odds) of a random product of
--                         BENCH_PRODUCTS (`1`, or a range `1-20`) for a random client of BENCH_IDS
--   BENCH_SEED   mode storm: seeds the random choices (so two wrk processes differ)
--
-- A response is a success only when it is HTTP 200 AND its body has no "errors" key. 503s are
-- counted on their own too (the server's answer to overload).
--
-- wrk keeps one latency histogram for all answers and does not tell the script which request
-- an answer belongs to, so the p99 of the successful answers alone cannot be measured here.
-- done() reports bounds for it instead, from the histogram of all answers: with a share s of
-- successes, at least 1 % of the successes (s % of all answers) are at or above their p99, so
-- it is at most the (100 - s)th percentile of all; at most 1 % of the successes and all the
-- failures are above it, so it is at least the (99 s)th. Without failures both are the p99.
-- Counters live in each thread's own Lua state; setup() keeps every thread so done() can
-- read them back with thread:get() (globals of a thread are invisible to done() otherwise).

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

local function json_string(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\n', '\\n') .. '"'
end

local function read_ids(path)
  local ids = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(ids, line) end
  end
  assert(#ids > 0, "no ids in " .. path)
  return ids
end

-- Mutations: product ids 11..20 are in no seeded list (the seed uses 1..10), so every add
-- really inserts and every remove really deletes; consecutive requests of a thread form a
-- pair (add then remove) on one client and one of ten products, and pairs walk the clients,
-- so concurrent connections touch different client rows and ten different product rows.
local MUTATE = 'mutation($c:UUID!,$p:Int!){%s(clientId:$c,productId:$p){id}}'

function init(args)
  ok, non200, gql_errors, s503 = 0, 0, 0, 0
  local mode = os.getenv("BENCH_MODE") or "query"
  local query = os.getenv("BENCH_QUERY") or "{__typename}"
  local headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  local encoding = os.getenv("BENCH_ACCEPT_ENCODING")
  if encoding and encoding ~= "" then headers["Accept-Encoding"] = encoding end

  -- Every body is built once, here; request() only picks the next one.
  bodies = {}
  if mode == "query" then
    bodies[1] = '{"query":' .. json_string(query) .. '}'
  elseif mode == "client" then
    local q = json_string(query)
    for _, id in ipairs(read_ids(os.getenv("BENCH_IDS"))) do
      table.insert(bodies, '{"query":' .. q .. ',"variables":{"id":"' .. id .. '"}}')
    end
  elseif mode == "shared" then
    local q = json_string(query)
    for _, token in ipairs(read_ids(os.getenv("BENCH_SHARES"))) do
      table.insert(bodies, '{"query":' .. q .. ',"variables":{"token":"' .. token .. '"}}')
    end
  elseif mode == "mutate" then
    local ids = read_ids(os.getenv("BENCH_IDS"))
    local add = json_string(MUTATE:format("addFavorite"))
    local remove = json_string(MUTATE:format("removeFavorite"))
    for i, id in ipairs(ids) do
      local vars = ',"variables":{"c":"' .. id .. '","p":' .. (11 + i % 10) .. '}}'
      table.insert(bodies, '{"query":' .. add .. vars)
      table.insert(bodies, '{"query":' .. remove .. vars)
    end
  elseif mode == "mixed" then
    -- Reads rotate over the clients as in mode client; after every (BENCH_WRITE_EVERY - 1)
    -- reads comes one write. Writes go in pairs on one client (its k-th pair: add product
    -- 11 + k % 10, which no seeded list holds, then remove it), pairs walk the clients, one
    -- pair per client a cycle, so each pass leaves every list as it found it.
    local ids = read_ids(os.getenv("BENCH_IDS"))
    local every = tonumber(os.getenv("BENCH_WRITE_EVERY") or "20")
    assert(every and every >= 2, "BENCH_WRITE_EVERY must be 2 or more")
    local q = json_string(query)
    local add = json_string(MUTATE:format("addFavorite"))
    local remove = json_string(MUTATE:format("removeFavorite"))
    local reads = 0
    for w = 0, 2 * #ids - 1 do
      for _ = 1, every - 1 do
        local id = ids[reads % #ids + 1]
        table.insert(bodies, '{"query":' .. q .. ',"variables":{"id":"' .. id .. '"}}')
        reads = reads + 1
      end
      local pair = math.floor(w / 2)
      local vars = ',"variables":{"c":"' .. ids[pair % #ids + 1] .. '","p":' .. (11 + pair % 10) .. '}}'
      table.insert(bodies, '{"query":' .. (w % 2 == 0 and add or remove) .. vars)
    end
  elseif mode == "storm" then
    local ids = read_ids(os.getenv("BENCH_IDS"))
    local lo, hi = (os.getenv("BENCH_PRODUCTS") or "1-20"):match("^(%d+)-?(%d*)$")
    assert(lo, "BENCH_PRODUCTS must be N or N-M")
    lo = tonumber(lo)
    hi = hi ~= "" and tonumber(hi) or lo
    math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1") * 1000 + thread_no)
    local add = json_string(MUTATE:format("addFavorite"))
    local remove = json_string(MUTATE:format("removeFavorite"))
    for _ = 1, 20000 do
      local vars = ',"variables":{"c":"' .. ids[math.random(#ids)] .. '","p":' .. math.random(lo, hi) .. '}}'
      table.insert(bodies, '{"query":' .. (math.random(2) == 1 and add or remove) .. vars)
    end
  else
    error("unknown BENCH_MODE " .. mode)
  end
  -- A second thread starts half-way round, so two threads do not work on the same client.
  next_body = (thread_no * 2 * math.floor(#bodies / 4)) % #bodies
  prepared = {}
  for i, body in ipairs(bodies) do
    prepared[i] = wrk.format("POST", "/graphql", headers, body)
  end
end

function request()
  next_body = next_body % #prepared + 1
  return prepared[next_body]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if status == 503 then s503 = s503 + 1 end
  elseif body:find('"errors":', 1, true) then
    gql_errors = gql_errors + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local t_ok, t_non200, t_gql, t_503 = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_non200 = t_non200 + thread:get("non200")
    t_gql = t_gql + thread:get("gql_errors")
    t_503 = t_503 + thread:get("s503")
  end
  -- Bounds of the successes' p99 (see the header); -1 when nothing succeeded.
  local ok_p99_lo, ok_p99_hi = -1, -1
  if t_ok > 0 and summary.requests > 0 then
    local share = math.min(t_ok / summary.requests, 1)
    ok_p99_lo = latency:percentile(math.max(99 * share, 0.001))
    ok_p99_hi = latency:percentile(100 - share)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"non200":%d,"gql_errors":%d,' ..
    '"status_503":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"ok_p99_lo_us":%d,"ok_p99_hi_us":%d}\n',
    summary.requests, summary.duration, t_ok, t_non200, t_gql, t_503,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    ok_p99_lo, ok_p99_hi))
end
