"""HTTP load for the benchmark: `wrk` when it is installed (Debian: `apt-get install -y wrk`),
else a Python client of threads, which measures less precisely (the client takes CPU too)."""
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

WRK_THREADS = 2
CONNECTIONS = 16
SECONDS = 8


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def measure(url: str, seconds: float = SECONDS, connections: int = CONNECTIONS) -> dict:
    """Requests per second and latency percentiles of GETs of `url`, and how many were not 2xx/3xx."""
    return _wrk(url, seconds, connections) if wrk_available() else _threads(url, seconds, connections)


def _wrk(url: str, seconds: float, connections: int) -> dict:
    output = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url],
                            capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {int(p): _milliseconds(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {"rps": rps, "p50_ms": latency.get(50, float("nan")), "p99_ms": latency.get(99, float("nan")),
            "bad": int(bad.group(1)) if bad else 0, "socket_errors": sum(map(int, errors.groups())) if errors else 0,
            "tool": "wrk"}


def _milliseconds(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def _threads(url: str, seconds: float, connections: int) -> dict:
    latencies, bad = [], [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client():
        session = requests.Session()
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status = session.get(url, timeout=30).status_code
            with lock:
                latencies.append(time.perf_counter() - started)
                bad[0] += status >= 400

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(client) for _ in range(connections)]:
            future.result()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"rps": len(latencies) / elapsed, "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000, "bad": bad[0], "socket_errors": 0,
            "tool": "python threads"}
