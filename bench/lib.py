"""Helpers for bench/run (Python 3.11, standard library only).

    lib.py free-port
    lib.py wait-http URL [SECONDS]       until URL answers 200
    lib.py seed                          token + 200 clients x 5 favorites, through the API
    lib.py cases                         thread calibration, the five cases, half-rate p99
    lib.py bare                          the bare axum baseline
    lib.py pgbench DB                    PostgreSQL's own ceiling (pgbench -S)
    lib.py ready                         time to /readyz on a fresh SQLite file
    lib.py report                        BENCHMARKS.md + the table on stdout

Every step reads its settings from BENCH_* variables (set by bench/run) and adds its numbers
to $BENCH_WORK/results.json, which `report` turns into BENCHMARKS.md.
"""

import datetime
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = os.environ
WORK = Path(ENV.get("BENCH_WORK", "/tmp"))
RESULTS = WORK / "results.json"
LUA = ROOT / "bench" / "graphql.lua"
CLIENTS, FAVORITES_EACH = 200, 5
TICK = os.sysconf("SC_CLK_TCK")

CASES = [
    ("typename", "`{__typename}`", "query", "{__typename}"),
    ("client", "one client with favorites and products (rotating 200 ids)", "client",
     "query($id:UUID!){client(id:$id){name email favorites{nodes{product{title price image rating{rate}}}}}}"),
    ("list", "`clients(first:100){nodes{id name email}}`", "query",
     "{clients(first:100){nodes{id name email}}}"),
    ("list_favorites", "`clients(first:100)` with `favorites{nodes{product{title}}}`", "query",
     "{clients(first:100){nodes{id name email favorites{nodes{product{title}}}}}}"),
    ("mutate", "`addFavorite` / `removeFavorite` pairs", "mutate", None),
]


def log(message):
    print(f"    {message}", file=sys.stderr, flush=True)


def load():
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def save(key, value):
    results = load()
    results[key] = value
    RESULTS.write_text(json.dumps(results, indent=1))


# --- HTTP -------------------------------------------------------------------------------------

def http(url, body=None, token=None, timeout=10.0):
    """(status, text) of a GET, or of a POST of `body` as JSON."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def graphql(body, token=None):
    status, text = http(ENV["BENCH_URL"] + "/graphql", body, token)
    answer = json.loads(text)
    items = answer if isinstance(answer, list) else [answer]
    if status != 200 or any("errors" in item for item in items):
        sys.exit(f"bench: GraphQL request failed (HTTP {status}): {text[:500]}")
    return items


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, seconds=30.0, interval=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if http(url, timeout=1.0)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


# --- Process and machine counters -------------------------------------------------------------

def proc_status(pid):
    """VmHWM and VmRSS of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


def proc_cpu(pid):
    """CPU seconds (user + system, all threads) a process has used."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy():
    """CPU seconds the whole machine has spent not idle."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK


def all_cpu():
    """{pid: (name, CPU seconds)} of every process."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        table[int(stat.parent.name)] = (text[text.index("(") + 1:text.rindex(")")],
                                        (int(fields[11]) + int(fields[12])) / TICK)
    return table


def cpu_by_name(before, after, seconds):
    """Cores used per process name between two all_cpu() snapshots."""
    used = {}
    for pid, (name, cpu) in after.items():
        used[name] = used.get(name, 0.0) + (cpu - before.get(pid, (name, 0.0))[1]) / seconds
    return used


def background(seconds=3.0):
    """What the machine is busy with while the server idles: cores, and the top consumers."""
    start, busy, t = all_cpu(), machine_busy(), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t
    used = cpu_by_name(start, all_cpu(), elapsed)
    top = sorted(used.items(), key=lambda item: -item[1])[:4]
    return {"cores": (machine_busy() - busy) / elapsed,
            "top": [[name, cores] for name, cores in top if cores >= 0.02]}


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def statements(token):
    """db_statements_total from /metrics, or None while the endpoint does not exist."""
    try:
        status, text = http(ENV["BENCH_URL"] + "/metrics", token=token, timeout=5.0)
    except OSError:
        return None
    if status != 200:
        return None
    total, found = 0.0, False
    for line in text.splitlines():
        if re.match(r"db_statements_total(\{|\s)", line):
            total += float(line.rsplit(None, 1)[1])
            found = True
    return total if found else None


# --- Load generators --------------------------------------------------------------------------

def wrk(url, seconds, threads, mode, query, extra_env=None):
    env = dict(ENV, BENCH_MODE=mode, BENCH_QUERY=query or "", BENCH_IDS=str(WORK / "ids"),
               BENCH_TOKEN=(WORK / "token").read_text().strip(), **(extra_env or {}))
    command = ["wrk", "-t", str(threads), "-c", ENV["BENCH_CONNECTIONS"], "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(LUA), url + "/graphql"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"bench: wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = result["non200"] + result["gql_errors"]
    return result


def measure(url, pid, threads, mode, query, warmup=True, seconds=None):
    """Warm-up (not counted), then one measured wrk run with the server's counters around it."""
    seconds = seconds or int(ENV["BENCH_DURATION"])
    token = (WORK / "token").read_text().strip()
    if warmup:
        wrk(url, int(ENV["BENCH_WARMUP"]), threads, mode, query)
    before = (statements(token), proc_cpu(pid), machine_busy(), children_cpu(), time.monotonic(), all_cpu())
    result = wrk(url, seconds, threads, mode, query)
    after = (statements(token), proc_cpu(pid), machine_busy(), children_cpu(), time.monotonic(), all_cpu())
    elapsed = after[4] - before[4]
    result["server_cpu"] = (after[1] - before[1]) / elapsed
    result["machine_cpu"] = (after[2] - before[2]) / elapsed
    result["wrk_cpu"] = (after[3] - before[3]) / elapsed
    result["postgres_cpu"] = cpu_by_name(before[5], after[5], elapsed).get("postgres", 0.0)
    result["other_cpu"] = max(0.0, result["machine_cpu"] - result["server_cpu"] - result["wrk_cpu"]
                              - result["postgres_cpu"])
    result["cpu_us_per_request"] = result["server_cpu"] * elapsed / max(result["requests"], 1) * 1e6
    result["sql_per_request"] = (
        None if before[0] is None or after[0] is None or not result["requests"]
        else (after[0] - before[0]) / result["requests"])
    result.update(proc_status(pid))
    return result


def oha_half_rate(rate):
    """Case 2 at a fixed rate, open model: oha -q with latency correction (status only)."""
    token = (WORK / "token").read_text().strip()
    query = CASES[1][3]
    bodies = WORK / "client-bodies"
    bodies.write_text("".join(
        json.dumps({"query": query, "variables": {"id": i}}) + "\n"
        for i in (WORK / "ids").read_text().split()))
    command = ["oha", "--no-tui", "--output-format", "json", "-z", f"{ENV['BENCH_DURATION']}s",
               "-w", "-c", ENV["BENCH_CONNECTIONS"], "-q", f"{rate:.0f}", "--latency-correction",
               "--worker-threads", "1", "-m", "POST", "-T", "application/json",
               "-H", f"Authorization: Bearer {token}", "-Z", str(bodies),
               ENV["BENCH_URL"] + "/graphql"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: oha failed ({done.returncode}):\n{done.stderr}")
    out = json.loads(done.stdout)
    statuses = out["statusCodeDistribution"]
    total = sum(statuses.values()) + sum(out["errorDistribution"].values())
    return {"target_rps": rate, "rps": out["metrics"]["requests_per_sec"],
            "p50_us": out["metrics"]["latency_ms"]["p50"] * 1000,
            "p99_us": out["metrics"]["latency_ms"]["p99"] * 1000,
            "max_us": out["metrics"]["latency_ms"]["max"] * 1000,
            "requests": total, "errors": total - statuses.get("200", 0)}


# --- Steps ------------------------------------------------------------------------------------

def seed():
    url, password = ENV["BENCH_URL"], ENV["BENCH_PASSWORD"]
    token = graphql({"query": "mutation($u:String!,$p:String!){issueToken(username:$u,password:$p){accessToken}}",
                     "variables": {"u": ENV["MASTER_USERNAME"], "p": password}})[0]
    token = token["data"]["issueToken"]["accessToken"]
    (WORK / "token").write_text(token)
    create = "mutation($n:String!,$e:String!){createClient(input:{name:$n,email:$e}){id}}"
    ids = []
    for start in range(0, CLIENTS, 10):  # JSON batches of 10 operations (MAX_BATCH_SIZE)
        batch = [{"query": create, "variables": {"n": f"Bench Client {i}", "e": f"bench{i}@example.com"}}
                 for i in range(start, start + 10)]
        ids += [item["data"]["createClient"]["id"] for item in graphql(batch, token)]
    # Client i gets products (i..i+4) mod 10, + 1: only ids 1..10, so 11..20 stay free for the
    # mutation case. One operation per client with five aliased addFavorite, ten per batch.
    for start in range(0, CLIENTS, 10):
        batch = []
        for i in range(start, start + 10):
            adds = " ".join(f'a{j}:addFavorite(clientId:"{ids[i]}",productId:{(i + j) % 10 + 1}){{id}}'
                            for j in range(FAVORITES_EACH))
            batch.append({"query": f"mutation{{{adds}}}"})
        graphql(batch, token)
    check = graphql({"query": "{clients(first:100){totalCount nodes{favorites{totalCount}}}}"}, token)[0]
    page = check["data"]["clients"]
    favorites = sum(node["favorites"]["totalCount"] for node in page["nodes"])
    if page["totalCount"] != CLIENTS or favorites != 100 * FAVORITES_EACH:
        sys.exit(f"bench: seeding left {page['totalCount']} clients, {favorites} favorites on page 1")
    (WORK / "ids").write_text("\n".join(ids) + "\n")
    log(f"{CLIENTS} clients x {FAVORITES_EACH} favorites")


def cases():
    url, pid = ENV["BENCH_URL"], int(ENV["BENCH_SERVER_PID"])
    save("background", background())
    threads = ENV.get("BENCH_THREADS", "auto")
    if threads == "auto":
        # On the cheapest case, where the load generator's share of the CPU is the largest.
        seconds = int(ENV["BENCH_CALIBRATE"])
        _, _, mode, query = CASES[0]
        wrk(url, int(ENV["BENCH_WARMUP"]), 1, mode, query)
        calibration = {}
        for t in (1, 2):
            calibration[t] = measure(url, pid, t, mode, query, warmup=False, seconds=seconds)
            log(f"calibration -t {t}: {calibration[t]['rps']:,.0f} req/s, "
                f"server {calibration[t]['server_cpu']:.2f} cores, wrk {calibration[t]['wrk_cpu']:.2f} cores, "
                f"other {calibration[t]['other_cpu']:.2f}")
        threads = max(calibration, key=lambda t: calibration[t]["rps"])
        save("calibration", {str(t): r for t, r in calibration.items()})
    save("threads", int(threads))
    for key, _, mode, query in CASES:
        result = measure(url, pid, int(threads), mode, query)
        save(f"case_{key}", result)
        log(f"{key}: {result['rps']:,.0f} req/s, p99 {result['p99_us'] / 1000:.2f} ms, "
            f"{result['errors']} errors, CPU cores: server {result['server_cpu']:.2f}, wrk {result['wrk_cpu']:.2f}, "
            f"postgres {result['postgres_cpu']:.2f}, other {result['other_cpu']:.2f}")
    rate = float(ENV.get("BENCH_HALF_RATE") or load()["case_client"]["rps"] / 2)
    result = oha_half_rate(rate)
    save("half_rate", result)
    log(f"half rate {rate:,.0f} req/s: p99 {result['p99_us'] / 1000:.2f} ms, {result['errors']} errors")


def answer(url, token):
    request = urllib.request.Request(url + "/graphql", data=b'{"query":"{__typename}"}', headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.headers.get("Content-Type"), response.read()


def bare():
    token = (WORK / "token").read_text().strip()
    real, baseline = answer(ENV["BENCH_URL"], token), answer(ENV["BENCH_BARE_URL"], token)
    if real != baseline:
        sys.exit(f"bench: the bare baseline answers {baseline}, the server {real}")
    result = measure(ENV["BENCH_BARE_URL"], int(ENV["BENCH_BARE_PID"]), load()["threads"],
                     "query", "{__typename}")
    result["sql_per_request"] = None
    save("bare", result)
    log(f"bare axum: {result['rps']:,.0f} req/s")


def pgbench(database):
    seconds = ENV["BENCH_DURATION"]
    for command in (["pgbench", "-i", "-s", "10", "-q", database],
                    ["pgbench", "-c", "32", "-j", "2", "-T", seconds, "-S", database]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench: {' '.join(command)} failed:\n{done.stderr}")
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
    save("pgbench", {"tps": tps, "clients": 32, "jobs": 2, "seconds": int(seconds), "scale": 10})
    log(f"pgbench -S: {tps:,.0f} tps")


def ready():
    times = []
    for run in range(int(ENV["BENCH_READY_RUNS"])):
        port = free_port()
        env = dict(ENV, DATABASE_URL=f"sqlite://{WORK}/ready-{run}.db?mode=rwc",
                   LISTEN_ADDR=f"127.0.0.1:{port}")
        start = time.perf_counter()
        server = subprocess.Popen([ENV["BENCH_BINARY"]], cwd=WORK, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_http(f"http://127.0.0.1:{port}/readyz", seconds=30, interval=0.005):
                sys.exit("bench: the SQLite server never became ready")
            times.append(time.perf_counter() - start)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=15)
    save("ready", {"runs": times, "median": statistics.median(times), "max": max(times)})
    log(f"ready on SQLite: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")


# --- Report -----------------------------------------------------------------------------------

def ms(us):
    return f"{us / 1000:.2f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def machine():
    cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
               if l.startswith("model name"))
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return f"{os.cpu_count()} CPUs ({cpu}), {mem / 1024 / 1024:.1f} GiB RAM, Linux {os.uname().release}"


def run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def report():
    r = load()
    commit = run("git", "rev-parse", "--short", "HEAD") or ENV.get("BENCH_COMMIT", "unknown")
    dirty = run("git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    if not Path(ROOT / ".git").exists():
        dirty = ""
    threads, conns = r["threads"], ENV["BENCH_CONNECTIONS"]
    lines = [
        "# Benchmarks",
        "",
        "Made by `bench/run` (see the script's header for the knobs). Numbers from one run on one",
        "machine, with the load generator on the same cores as the server and PostgreSQL.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {machine()}",
        f"- commit: `{commit[:12]}`" + (" (with uncommitted changes)" if dirty else ""),
        f"- server: release build, PostgreSQL {run('psql', '-tAc', 'show server_version')} on "
        f"127.0.0.1, `DATABASE_MAX_CONNECTIONS={ENV['DATABASE_MAX_CONNECTIONS']}`, `RUST_LOG=warn`, "
        "fake catalog (`scripts/fake-catalog.mjs`) on loopback, product cache warm",
        f"- data: {CLIENTS} clients x {FAVORITES_EACH} favorites, seeded through the API",
        f"- load: {run('sh', '-c', 'wrk -v 2>&1 | head -n 1').split(' [')[0]}, `-t {threads} -c {conns}`, "
        f"{ENV['BENCH_WARMUP']} s warm-up (not counted), then {ENV['BENCH_DURATION']} s measured per case; "
        "a success is HTTP 200 with no `errors` key in the body",
    ]
    if "calibration" in r:
        cal = r["calibration"]
        lines.append(
            f"- wrk threads: case 1 for {ENV['BENCH_CALIBRATE']} s with `-t 1`: {cal['1']['rps']:,.0f} req/s "
            f"(wrk {cal['1']['wrk_cpu']:.2f} cores, server {cal['1']['server_cpu']:.2f}); with `-t 2`: "
            f"{cal['2']['rps']:,.0f} req/s (wrk {cal['2']['wrk_cpu']:.2f}, server {cal['2']['server_cpu']:.2f}); "
            f"kept `-t {threads}`, the faster")
    else:
        lines.append(f"- wrk threads: `-t {threads}` (BENCH_THREADS)")
    bg = r["background"]
    lines.append(
        f"- background load just before the cases, server idle: {bg['cores']:.2f} of {os.cpu_count()} cores busy"
        + (" (" + ", ".join(f"{name} {cores:.2f}" for name, cores in bg["top"]) + ")" if bg["top"] else ""))
    if bg["cores"] > 0.25:
        lines.append("  **The machine was not quiet: the numbers below are lower than an idle machine "
                     "would give.** Compare the CPU µs/request column, which depends less on it.")
    lines += ["", "## Cases", "",
              "| case | req/s | p50 | p99 | errors | server peak RSS (VmHWM) | VmRSS after | SQL statements/request "
              "| server CPU µs/request | CPU cores: server / wrk / postgres / other |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    rows = [(f"{n}. {title}", r[f"case_{key}"]) for n, (key, title, _, _) in enumerate(CASES, 1)]
    rows.append(("baseline: bare axum, same wrk script as case 1", r["bare"]))
    for title, c in rows:
        sql = "n/a" if c["sql_per_request"] is None else f"{c['sql_per_request']:.2f}"
        errors = f"{c['errors']:,}" + (f" (+{c['socket_errors']} socket)" if c["socket_errors"] else "")
        lines.append(f"| {title} | {c['rps']:,.0f} | {ms(c['p50_us'])} | {ms(c['p99_us'])} | {errors} | "
                     f"{mib(c['VmHWM'])} | {mib(c['VmRSS'])} | {sql} | {c['cpu_us_per_request']:,.0f} | "
                     f"{c['server_cpu']:.2f} / {c['wrk_cpu']:.2f} / {c['postgres_cpu']:.2f} / {c['other_cpu']:.2f} |")
    half, bare, pg, rd = r["half_rate"], r["bare"], r["pgbench"], r["ready"]
    ratio = r["case_typename"]["rps"] / bare["rps"]
    cpu_ratio = bare["cpu_us_per_request"] / r["case_typename"]["cpu_us_per_request"]
    lines += [
        "",
        "SQL statements/request is the growth of `db_statements_total` (from `GET /metrics`) over the",
        "measured window divided by the requests wrk completed; n/a when the server has no `/metrics`.",
        "Server peak RSS is the process's VmHWM, cumulative: a case's value includes the cases before it.",
        "CPU cores are averages over the measured window (from /proc); \"other\" is whatever else ran on",
        "the machine. Server CPU µs/request = server CPU time / requests.",
        "",
        "## Baselines",
        "",
        f"- bare axum (`examples/bare_axum.rs`, same answer bytes and content type): {bare['rps']:,.0f} req/s; "
        f"`{{__typename}}` reaches {ratio:.0%} of it ({cpu_ratio:.0%} per server CPU second: "
        f"{r['case_typename']['cpu_us_per_request']:,.0f} against {bare['cpu_us_per_request']:,.0f} µs/request)",
        f"- PostgreSQL alone: `pgbench -S -c 32 -j 2 -T {pg['seconds']}` at scale 10: {pg['tps']:,.0f} tps",
        "",
        "## p99 at half rate (case 2)",
        "",
        f"oha {run('oha', '--version').split()[-1]} (wrk2 is not in Debian; wrk cannot hold a rate): "
        f"`-q {half['target_rps']:.0f}` (half of case 2's {r['case_client']['rps']:,.0f} req/s), "
        f"`-c {conns}`, `--latency-correction` (latency from each request's scheduled start, so "
        f"queueing counts), {ENV['BENCH_DURATION']} s, bodies rotating over the 200 ids. oha checks the "
        "status only, not the body.",
        "",
        f"| achieved req/s | p50 | p99 | max | non-200 or failed |",
        "|---:|---:|---:|---:|---:|",
        f"| {half['rps']:,.0f} | {ms(half['p50_us'])} | {ms(half['p99_us'])} | {ms(half['max_us'])} | {half['errors']:,} |",
        "",
        "## Ready to serve (SQLite)",
        "",
        f"From spawning the binary on a fresh SQLite file (migrations included) to the first 200 from "
        f"`GET /readyz`, polled every 5 ms, {len(rd['runs'])} runs: median {rd['median'] * 1000:.0f} ms, "
        f"max {rd['max'] * 1000:.0f} ms ({', '.join(f'{t * 1000:.0f}' for t in rd['runs'])} ms).",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    peak = max(r[f"case_{key}"]["VmHWM"] for key, *_ in CASES)
    targets = [
        ("favorites read (case 2) ≥ 9,000 req/s", f"{r['case_client']['rps']:,.0f} req/s",
         r["case_client"]["rps"] >= 9000),
        ("p99 ≤ 10 ms at half the max rate (case 2)",
         f"{ms(half['p99_us'])} at {half['rps']:,.0f} req/s", half["p99_us"] <= 10_000 and not half["errors"]),
        ("`{__typename}` ≥ 50% of bare axum", f"{ratio:.0%}", ratio >= 0.5),
        ("100-client list (case 3) ≥ 3,000 req/s",
         f"{r['case_list']['rps']:,.0f} req/s (with favorites, case 4: {r['case_list_favorites']['rps']:,.0f})",
         r["case_list"]["rps"] >= 3000),
        ("server RSS ≤ 64 MiB", f"peak {mib(peak)}", peak <= 64 * 1024),
        ("ready ≤ 0.5 s on SQLite", f"median {rd['median'] * 1000:.0f} ms, max {rd['max'] * 1000:.0f} ms",
         rd["max"] <= 0.5),
    ]
    lines += [f"| {t} | {m} | {'met' if ok else '**missed**'} |" for t, m, ok in targets]
    errors = sum(r[f"case_{key}"]["errors"] for key, *_ in CASES)
    if errors:
        lines += ["", f"**{errors:,} failed responses** in the cases above: the numbers are suspect."]
    text = "\n".join(lines) + "\n"
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)


def main():
    step, args = sys.argv[1], sys.argv[2:]
    if step == "free-port":
        print(free_port())
    elif step == "wait-http":
        sys.exit(0 if wait_http(args[0], float(args[1]) if len(args) > 1 else 30.0) else 1)
    elif step == "pgbench":
        pgbench(*args)
    else:
        {"seed": seed, "cases": cases, "bare": bare, "ready": ready, "report": report}[step]()


if __name__ == "__main__":
    main()
