"""query-exporter against flowhealth's probes: the same 1,000 SQL queries on the same database.

Run: `python -m benchmarks.query_exporter_compare [--probes 1000] [--interval 5] [--duration 30] [--rounds 1]`.

query-exporter (pinned to QE_VERSION) lives in its own virtualenv under
~/.cache/flowhealth-bench/qe-venv, created on first use, because it depends on a different stack.
Both sides get the database `probe_bench` creates (20,000 rows, index on bucket), the queries of
`probe_bench.probe_queries`, the same interval, timeout and warm-up, one pool of 8 connections
and 8 worker threads, and the same psycopg version; each runs as its own process, one after the
other, so they never compete with each other for the two cores. Per round:

* query-exporter: started as a subprocess; runs are its own `queries_total` counter (scraped from
  its /metrics before and after the window, per status), CPU is utime + stime of its process
  from /proc over the window, peak memory its VmHWM;
* flowhealth: `python -m benchmarks.probe_bench --url ... --json` as a subprocess; runs, CPU over
  the window and scheduling lag come from the benchmark itself.

query-exporter has no scheduling-lag figure to read, so lag is measured for flowhealth only; for
query-exporter the script prints how long its last burst took, first to last query finished
(from its `query_timestamp` gauges), which bounds its lag plus query time from above.

Both sides are scraped 3 times a minute during the window (probe CPU includes the scrapes), and
CPU per `/metrics` scrape is measured after it: query-exporter's as its process CPU (from /proc)
over three back-to-back HTTP scrapes, half an interval after a burst when its queries are done;
flowhealth's as the scraping thread's CPU for the exposition `GET /metrics` serves (the HTTP
layer, a millisecond or so, is not included on flowhealth's side).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks.probe_bench import (
    POOL_SIZE,
    SCRAPE_EVERY,
    create_database,
    drop_database,
    probe_queries,
    probe_timeout,
    warm_up,
)

QE_VERSION = "5.0.2"
QE_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flowhealth-bench" / "qe-venv"
REPO = Path(__file__).resolve().parent.parent
LAG_GOAL = 0.100


def qe_venv() -> Path:
    """The query-exporter virtualenv, created or reused; returns its query-exporter script."""
    python, script = QE_VENV / "bin" / "python", QE_VENV / "bin" / "query-exporter"
    wanted = {"query-exporter": QE_VERSION, "psycopg": version("psycopg")}
    if python.exists() and script.exists() and _installed(python, wanted):
        return script
    print(f"setting up {QE_VENV} (query-exporter {QE_VERSION}, psycopg {wanted['psycopg']}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(QE_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            f"query-exporter=={QE_VERSION}",
            f"psycopg[binary]=={wanted['psycopg']}",
        ],
        check=True,
    )
    return script


def _installed(python: Path, wanted: dict[str, str]) -> bool:
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    result = subprocess.run([str(python), "-c", code, *wanted], capture_output=True, text=True)
    return result.returncode == 0 and json.loads(result.stdout) == wanted


def qe_config(url: str, probes: int, interval: int) -> str:
    """query-exporter's config: one database (pool of 8), one gauge, one query per probe.

    query-exporter maps result columns to metric and label names, so each query names its count
    `waiting_orders` and adds its flow and signal as constant label columns; the WHERE clause, and
    so the work in PostgreSQL, is the probe's own.
    """
    lines = [
        "databases:",
        "  bench:",
        f'    dsn: "{url}"',
        f"    connection-pool: {{size: {POOL_SIZE}, max-overflow: 0}}",
        "metrics:",
        "  waiting_orders:",
        "    type: gauge",
        "    description: Waiting orders in one bucket.",
        "    labels: [flow, signal]",
        "queries:",
    ]
    for flow, signal, sql in probe_queries(probes):
        head = "SELECT COUNT(*) FROM "
        assert sql.startswith(head), sql
        labelled = f"SELECT COUNT(*) AS waiting_orders, '{flow}' AS flow, '{signal}' AS signal FROM {sql[len(head) :]}"
        lines += [
            f"  {flow}.{signal}:",
            f"    interval: {interval}",
            f"    timeout: {probe_timeout(interval):g}",
            "    databases: [bench]",
            "    metrics: [waiting_orders]",
            f'    sql: "{labelled}"',
        ]
    return "\n".join(lines) + "\n"


def run_query_exporter(script: Path, url: str, probes: int, interval: int, duration: float) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(qe_config(url, probes, interval))
        log = (Path(tmp) / "qe.log").open("w")
        proc = subprocess.Popen(
            [str(script), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"],
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            metrics_url = f"http://127.0.0.1:{port}/metrics"
            # query-exporter runs every query once at start-up, just before its HTTP server answers,
            # then every interval: the same burst pattern and the same window as probe_bench.
            _wait_for(metrics_url, proc, Path(tmp) / "qe.log")
            time.sleep(warm_up(interval))
            before = _qe_counts(_scrape(metrics_url))
            cpu0 = _proc_cpu(proc.pid)
            end = time.monotonic() + duration
            next_scrape = time.monotonic() + SCRAPE_EVERY / 2
            while next_scrape < end:  # 3 scrapes a minute, as on flowhealth's side
                time.sleep(max(0.0, next_scrape - time.monotonic()))
                _scrape(metrics_url)
                next_scrape += SCRAPE_EVERY
            time.sleep(max(0.0, end - time.monotonic()))
            cpu = _proc_cpu(proc.pid) - cpu0
            body = _scrape(metrics_url)
            scrape_cpu = []
            for _ in range(3):
                cpu1 = _proc_cpu(proc.pid)
                scraped = _scrape(metrics_url)
                scrape_cpu.append(_proc_cpu(proc.pid) - cpu1)
            after, drain = _qe_counts(body), _qe_drain(body)
            peak = _vm_hwm_mib(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    statuses = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    return {
        "runs": statuses.pop("success", 0.0),
        "other": {k: v for k, v in statuses.items() if v},
        "cpu_seconds": cpu,
        "duration": duration,
        "peak_rss_mib": peak,
        "drain": drain,
        "scrape_cpu_seconds": statistics.median(scrape_cpu),
        "scrape_bytes": len(scraped.encode()),
        "scrape_series": sum(1 for line in scraped.splitlines() if line and not line.startswith("#")),
    }


def run_flowhealth(url: str, probes: int, interval: int, duration: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.probe_bench", "--url", url, "--json"]
    command += ["--probes", str(probes), "--interval", str(interval), "--duration", str(duration)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


_SAMPLE = re.compile(r"^queries_total\{([^}]*)\}\s+(\S+)$", re.M)
_STATUS = re.compile(r'status="([^"]*)"')
_TIMESTAMP = re.compile(r"^query_timestamp\{[^}]*\}\s+(\S+)$", re.M)


def _scrape(metrics_url: str) -> str:
    with urllib.request.urlopen(metrics_url, timeout=30) as response:
        body: str = response.read().decode()
        return body


def _qe_drain(body: str) -> float | None:
    """Seconds from the first to the last query finishing in the latest burst (query_timestamp).

    Scraped half an interval after a burst began, every query's last run is from that burst;
    the spread is how long query-exporter took to work through it, the nearest it offers to a lag.
    """
    stamps = [float(v) for v in _TIMESTAMP.findall(body)]
    return max(stamps) - min(stamps) if stamps else None


def _qe_counts(body: str) -> dict[str, float]:
    """queries_total summed per status (success, error, timeout, ...)."""
    counts: dict[str, float] = {}
    for labels, value in _SAMPLE.findall(body):
        match = _STATUS.search(labels)
        status = match.group(1) if match else "?"
        counts[status] = counts.get(status, 0.0) + float(value)
    return counts


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"query-exporter exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"query-exporter did not answer on {url} within {timeout:g}s")


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.1f}" for x in load)


def _row(name: str, r: dict[str, Any]) -> str:
    runs, duration = r["runs"], r["duration"]
    per_1000 = 1000 * r["cpu_seconds"] / runs if runs else float("nan")
    lag = (
        f"{1000 * r['lag_p50']:>8.1f} ms {1000 * r['lag_p99']:>8.1f} ms"
        if r.get("lag_p50") is not None
        else f"{'n/a':>11} {'n/a':>11}"
    )
    return (
        f"{name:<16} {runs:>7.0f} {runs / duration:>7.1f} {r['cpu_seconds']:>7.2f} {per_1000:>10.3f}  {lag}"
        f" {r['peak_rss_mib']:>6.0f} MiB {1000 * r['scrape_cpu_seconds']:>9.1f} ms {r['scrape_series']:>7}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=5, help="Whole seconds (query-exporter takes no fractions).")
    parser.add_argument("--duration", type=float, default=30.0, help="Measured seconds, after a warm-up interval.")
    parser.add_argument("--rounds", type=int, default=1, help="Rounds, alternating which side goes first.")
    args = parser.parse_args()
    if args.duration % args.interval:
        parser.error("--duration must be a multiple of --interval (the window then holds whole bursts of runs)")

    script = qe_venv()
    load_before = os.getloadavg()  # the machine is shared: the load is part of every figure
    name, url = create_database()
    results: dict[str, list[dict[str, Any]]] = {"query-exporter": [], "flowhealth": []}
    try:
        for n in range(args.rounds):
            order = ["query-exporter", "flowhealth"] if n % 2 == 0 else ["flowhealth", "query-exporter"]
            for side in order:
                print(f"round {n + 1}/{args.rounds}: {side} ...", flush=True)
                if side == "query-exporter":
                    r = run_query_exporter(script, url, args.probes, args.interval, args.duration)
                else:
                    r = run_flowhealth(url, args.probes, args.interval, args.duration)
                results[side].append(r)
    finally:
        drop_database(name)

    planned = args.probes / args.interval
    print()
    print(
        f"{args.probes} SQL probes every {args.interval} s on one PostgreSQL database, pool of {POOL_SIZE} each,"
        f" {args.duration:g} s measured per run, {args.rounds} round(s); planned rate {planned:.0f} runs/s"
    )
    print(f"query-exporter {QE_VERSION} vs flowhealth; the two sides ran one after the other, never at once")
    print(f"load average (1, 5, 15 min): {_load(load_before)} before, {_load(os.getloadavg())} after")
    print()
    print(
        f"{'side':<16} {'runs':>7} {'runs/s':>7} {'CPU s':>7} {'CPU s/1k':>10}  {'lag p50':>11} {'lag p99':>11} {'peak RSS':>10} {'CPU/scrape':>12} {'series':>7}"
    )
    for side, rows in results.items():
        for r in rows:
            print(_row(side, r))
            if r.get("other"):
                print(f"{'':<16} query-exporter non-success queries: {r['other']}")
            if r.get("drain") is not None:
                print(f"{'':<16} last burst: first to last query finished within {1000 * r['drain']:.0f} ms")

    def per_1000(side: str) -> float:
        return float(statistics.median(1000 * r["cpu_seconds"] / r["runs"] for r in results[side] if r["runs"]))

    qe, ours = per_1000("query-exporter"), per_1000("flowhealth")
    p99 = statistics.median(r["lag_p99"] for r in results["flowhealth"])
    print()
    if ours < qe:
        print(f"CPU per run: flowhealth uses LESS than query-exporter ({ours:.3f} vs {qe:.3f} CPU s per 1,000 runs,")
        print(f"             {ours / qe:.2f}x); goal MET")
    else:
        print(f"CPU per run: flowhealth uses MORE than query-exporter ({ours:.3f} vs {qe:.3f} CPU s per 1,000 runs,")
        print(f"             {ours / qe:.2f}x); goal MISSED")
    scrape = {side: statistics.median(r["scrape_cpu_seconds"] for r in rows) for side, rows in results.items()}
    ratio = scrape["flowhealth"] / scrape["query-exporter"] if scrape["query-exporter"] else float("inf")
    print(
        f"CPU per /metrics scrape: flowhealth {1000 * scrape['flowhealth']:.1f} ms, query-exporter"
        f" {1000 * scrape['query-exporter']:.1f} ms ({ratio:.2f}x); goal <= 1.0x: {'MET' if ratio <= 1.0 else 'MISSED'}"
    )
    verdict = "MET" if p99 < LAG_GOAL else "MISSED"
    print(f"scheduling lag p99 (flowhealth): {1000 * p99:.1f} ms, goal < {1000 * LAG_GOAL:.0f} ms: {verdict}")
    rate = {side: statistics.median(r["runs"] / r["duration"] for r in rows) for side, rows in results.items()}
    for side, value in rate.items():
        if value < 0.95 * planned:
            print(f"note: {side} ran {value:.0f} of {planned:.0f} planned runs/s: it did not keep up")


if __name__ == "__main__":
    main()
