"""The cold burst, for bench/run (Python 3.11, standard library only): N requests at once
against a server that has just started (product cache empty) in front of a catalog that answers
in BENCH_COLD_DELAY_MS. Every request waits on the same upstream call; the machine is idle; none
should be refused.

    cold_burst.py one N CATALOG_URL   fire N at once at BENCH_URL, record the outcome
    cold_burst.py table               the section's Markdown, on stdout (lib.report includes it)
"""

import json
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402

ENV = lib.ENV
QUERY = "{clients(first:100){nodes{favorites(first:20){nodes{product{title}}}}}}"


def levels():
    return [int(n) for n in ENV.get("BENCH_COLD_LEVELS", "20 50 100 200").split()]


def upstream_requests(catalog_url):
    with urllib.request.urlopen(catalog_url + "/__requests", timeout=5.0) as response:
        return int(response.read())


def one(n, catalog_url):
    url, token = ENV["BENCH_URL"], lib.token()
    before = upstream_requests(catalog_url)
    start = threading.Barrier(n + 1)
    outcomes = [None] * n

    def fire(i):
        start.wait()
        status, text = lib.http(url + "/graphql", {"query": QUERY}, token, timeout=30.0)
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        code = ((body.get("errors") or [{}])[0].get("extensions") or {}).get("code")
        outcomes[i] = "ok" if status == 200 and "errors" not in body else (code or f"HTTP {status}")

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    result = {
        "n": n,
        "ok": outcomes.count("ok"),
        "overloaded": outcomes.count("OVERLOADED"),
        "other": n - outcomes.count("ok") - outcomes.count("OVERLOADED"),
        "seconds": took,
        "upstream": upstream_requests(catalog_url) - before,
    }
    found = lib.load().get("cold_burst", {})
    found[str(n)] = result
    lib.save("cold_burst", found)
    lib.log(f"cold burst of {n}: {result['ok']} ok, {result['overloaded']} OVERLOADED, "
            f"{result['other']} other failures, {took:.2f} s, {result['upstream']} upstream calls")


def table():
    found = lib.load().get("cold_burst")
    if not found:
        return []
    lines = [
        "## Cold burst",
        "",
        f"N requests at once, `{QUERY}`, each level against a server just started (product cache empty, "
        f"response cache off) in front of a catalog that answers in {ENV.get('BENCH_COLD_DELAY_MS', '300')} ms; "
        "admission settings at their defaults. The machine is idle while the burst waits on the catalog: "
        "nothing should be refused.",
        "",
        "| N | answered | refused `OVERLOADED` | other failures | the whole burst took | upstream calls |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(found, key=int):
        c = found[key]
        lines.append(f"| {c['n']} | {c['ok']} | {c['overloaded']} | {c['other']} | {c['seconds']:.2f} s | {c['upstream']} |")
    return lines


def main():
    step, args = sys.argv[1], sys.argv[2:]
    if step == "one":
        one(int(args[0]), args[1])
    elif step == "levels":
        print(" ".join(map(str, levels())))
    elif step == "table":
        print("\n".join(table()))
    else:
        sys.exit(f"cold_burst.py: unknown step {step}")


if __name__ == "__main__":
    main()
