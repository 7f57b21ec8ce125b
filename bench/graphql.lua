-- wrk script for bench/run: POSTs GraphQL to /graphql and counts real failures.
--
-- Environment (read by every wrk thread):
--   BENCH_MODE   query  : one fixed document, BENCH_QUERY (the default)
--                client : BENCH_QUERY with {"id": <next id of BENCH_IDS>} as variables
--                mutate : addFavorite / removeFavorite pairs over BENCH_IDS (see below)
--   BENCH_QUERY  the GraphQL document
--   BENCH_IDS    file with one client id a line (modes client and mutate)
--   BENCH_TOKEN  bearer token (optional)
--
-- A response is a success only when it is HTTP 200 AND its body has no "errors" key.
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
  ok, non200, gql_errors = 0, 0, 0
  local mode = os.getenv("BENCH_MODE") or "query"
  local query = os.getenv("BENCH_QUERY") or "{__typename}"
  local headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end

  -- Every body is built once, here; request() only picks the next one.
  bodies = {}
  if mode == "query" then
    bodies[1] = '{"query":' .. json_string(query) .. '}'
  elseif mode == "client" then
    local q = json_string(query)
    for _, id in ipairs(read_ids(os.getenv("BENCH_IDS"))) do
      table.insert(bodies, '{"query":' .. q .. ',"variables":{"id":"' .. id .. '"}}')
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
  elseif body:find('"errors":', 1, true) then
    gql_errors = gql_errors + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local t_ok, t_non200, t_gql = 0, 0, 0
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_non200 = t_non200 + thread:get("non200")
    t_gql = t_gql + thread:get("gql_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"non200":%d,"gql_errors":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, t_ok, t_non200, t_gql,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
