"""Write throughput on one hot product against the same writes spread over all products, on one
instance and on two behind the same PostgreSQL, and the cross-instance delay of a change, for
bench/run (Python 3.11, standard library only; uses lib.py's wrk runner).

    writes.py seed                 BENCH_WRITE_CLIENTS clients through the API at BENCH_URL, and
                                   one more for the delay probe
    writes.py one URL              hot and spread, 64 connections on one instance
    writes.py two URL_A URL_B      hot and spread, half the connections on each instance; during
                                   spread, the probe times events on A of writes made through B
    writes.py table                the section's Markdown, on stdout (report() includes it too)

The load: each request an `addFavorite` or a `removeFavorite` (even odds) of a random client;
"hot" always names product 1, "spread" a random one of the 20.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402

ENV, WORK = lib.ENV, lib.WORK
IDS = WORK / "write-ids"
PROBE = WORK / "write-probe"
PRODUCTS = {"hot": "1", "spread": "1-20"}


def seed():
    url = ENV["BENCH_URL"]
    if not (WORK / "token").exists():
        issued = lib.graphql({"query": "mutation($u:String!,$p:String!){issueToken(username:$u,password:$p){accessToken}}",
                              "variables": {"u": ENV["MASTER_USERNAME"], "p": ENV["BENCH_PASSWORD"]}}, url=url)[0]
        (WORK / "token").write_text(issued["data"]["issueToken"]["accessToken"])
    create = "mutation($n:String!,$e:String!){createClient(input:{name:$n,email:$e}){id}}"
    count = int(ENV.get("BENCH_WRITE_CLIENTS", "2000"))
    ids = []
    for start in range(0, count + 1, 10):
        batch = [{"query": create, "variables": {"n": f"Writer {i}", "e": f"writer{i}@example.com"}}
                 for i in range(start, min(start + 10, count + 1))]
        ids += [item["data"]["createClient"]["id"] for item in lib.graphql(batch, lib.token(), url=url)]
    PROBE.write_text(ids.pop())
    IDS.write_text("\n".join(ids) + "\n")
    lib.log(f"{count} clients for the write cases, and one for the delay probe")


def storm(urls, label, seconds, seed_base, warmup=False):
    """wrk on each of `urls` at once (the connections shared among them); summed."""
    connections = int(ENV["BENCH_CONNECTIONS"]) // len(urls)
    results = [None] * len(urls)

    def run(index, url):
        env = {"BENCH_IDS": str(IDS), "BENCH_PRODUCTS": PRODUCTS[label], "BENCH_SEED": str(seed_base + index)}
        results[index] = lib.wrk(url, seconds, 1, "storm", None, connections=connections, env=env)

    threads = [threading.Thread(target=run, args=(i, url)) for i, url in enumerate(urls)]
    before, busy, started = lib.process_table(), lib.machine_busy(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if None in results:
        sys.exit("bench: a wrk run of the write cases failed (see above)")
    elapsed = time.monotonic() - started
    if warmup:
        return None
    used = lib.cpu_by_name(before, lib.process_table(), elapsed)
    return {
        "goodput": sum(r["goodput"] for r in results),
        "errors": sum(r["errors"] + r["socket_errors"] for r in results),
        "p99_us": max(r["p99_us"] for r in results),
        "machine_cpu": (lib.machine_busy() - busy) / elapsed,
        "postgres_cpu": used.get("postgres", 0.0),
        "server_cpu": used.get("favorites-api", 0.0),
    }


def measure(key, urls, probe=None):
    seconds = int(ENV["BENCH_DURATION"])
    found = {}
    for label in PRODUCTS:
        storm(urls, label, int(ENV["BENCH_WARMUP"]), 10, warmup=True)
        probe_thread = None
        if probe and label == "spread":
            probe_thread = threading.Thread(target=probe, args=(seconds,))
            probe_thread.start()
        found[label] = storm(urls, label, seconds, 20)
        if probe_thread:
            probe_thread.join()
        r = found[label]
        lib.log(f"{key} {label}: {r['goodput']:,.0f} writes/s, p99 {lib.ms(r['p99_us'])}, "
                f"{r['errors']} errors, PostgreSQL {r['postgres_cpu']:.2f} cores, machine {r['machine_cpu']:.2f}")
    lib.save(f"writes_{key}", found)


def two(url_a, url_b):
    def probe(seconds):
        command = [ENV["BENCH_PROBE"], url_a, url_b, lib.token(), PROBE.read_text().strip(), str(seconds)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            sys.exit(f"bench: the delay probe failed:\n{done.stdout}\n{done.stderr}")
        delay = json.loads(done.stdout.strip().splitlines()[-1])
        lib.save("writes_delay", delay)
        lib.log(f"cross-instance delay: p50 {delay['p50_ms']:.1f} ms, p99 {delay['p99_ms']:.1f} ms, "
                f"max {delay['max_ms']:.1f} ms over {delay['samples']} changes ({delay['lost']} lost)")

    measure("two", [url_a, url_b], probe)


def table():
    r = lib.load()
    one, two_, delay = r.get("writes_one"), r.get("writes_two"), r.get("writes_delay")
    if not one:
        return []
    connections = ENV.get("BENCH_CONNECTIONS", "64")
    lines = [
        "## Writes: one hot product, one and two instances",
        "",
        f"{ENV.get('BENCH_WRITE_CLIENTS', '2000')} clients; {connections} connections send `addFavorite` / "
        "`removeFavorite` (even odds) for random clients, on product 1 (hot) or on a random one of the 20 "
        "(spread); with two instances, half the connections on each, one PostgreSQL. Rates are successful "
        "writes per second; CPU in cores (the machine has "
        f"{os.cpu_count()}).",
        "",
        "| instances | load | writes/s | p99 | errors | server CPU | PostgreSQL CPU | machine CPU |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for count, found in (("1", one), ("2", two_)):
        for label in PRODUCTS:
            if not found or label not in found:
                continue
            c = found[label]
            lines.append(f"| {count} | {label} | {c['goodput']:,.0f} | {lib.ms(c['p99_us'])} | {c['errors']} | "
                         f"{c['server_cpu']:.2f} | {c['postgres_cpu']:.2f} | {c['machine_cpu']:.2f} |")
    lines.append("")
    lines.append(f"Hot ÷ spread: {one['hot']['goodput'] / one['spread']['goodput']:.2f} on one instance"
                 + (f", {two_['hot']['goodput'] / two_['spread']['goodput']:.2f} on two" if two_ else "")
                 + (f"; two instances ÷ one (spread): {two_['spread']['goodput'] / one['spread']['goodput']:.2f}"
                    if two_ else "") + ".")
    if delay:
        lines += ["", f"Cross-instance delay under the two-instance spread load (a write through B, its "
                  f"`favoritesChanged` event on A, from B's answer): p50 {delay['p50_ms']:.1f} ms, "
                  f"p99 {delay['p99_ms']:.1f} ms, max {delay['max_ms']:.1f} ms over {delay['samples']} changes "
                  f"({delay['lost']} lost, {delay['before_answer']} arrived before B's answer)."]
    return lines


def main():
    step, args = sys.argv[1], sys.argv[2:]
    if step == "seed":
        seed()
    elif step == "one":
        measure("one", args)
    elif step == "two":
        two(*args)
    elif step == "table":
        print("\n".join(table()))
    else:
        sys.exit(f"writes.py: unknown step {step}")


if __name__ == "__main__":
    main()
