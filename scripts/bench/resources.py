"""What the servers use while a part runs: their memory (RSS, PSS, USS) and CPU."""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time

import psutil

from local_stack.processes import ManagedProcess


def process_tree(process: ManagedProcess) -> list[psutil.Process]:
    """A Gunicorn master and its workers (or any process and its children)."""
    if process.pid is None:  # psutil.Process(None) would be this very process
        return []
    try:
        root = psutil.Process(process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def memory_of(processes: list[psutil.Process]) -> dict:
    """Sum of RSS, and of PSS/USS where the kernel gives them, in MB."""
    totals = {"rss_mb": 0.0, "pss_mb": 0.0, "uss_mb": 0.0}
    full = True
    for proc in processes:
        try:
            try:
                info = proc.memory_full_info()
            except psutil.AccessDenied:
                info, full = proc.memory_info(), False
        except psutil.NoSuchProcess:
            continue
        totals["rss_mb"] += info.rss / 2**20
        totals["pss_mb"] += getattr(info, "pss", 0) / 2**20
        totals["uss_mb"] += getattr(info, "uss", 0) / 2**20
        full = full and hasattr(info, "pss")
    if not full:
        totals["pss_mb"] = totals["uss_mb"] = None
    totals = {k: (None if v is None else round(v, 1)) for k, v in totals.items()}
    return {**totals, "processes": len(processes)}


class MemoryPeak(threading.Thread):
    """Samples a process tree's memory in the background; keeps the sample with the largest PSS
    (RSS when PSS is unknown)."""

    def __init__(self, process: ManagedProcess, interval: float = 0.25):
        super().__init__(daemon=True)
        self._process, self._interval = process, interval
        self._stop_event = threading.Event()
        self.peak: dict | None = None

    def run(self) -> None:
        while not self._stop_event.is_set():
            sample = memory_of(process_tree(self._process))
            if sample["processes"] and (self.peak is None or _size(sample) > _size(self.peak)):
                self.peak = sample
            self._stop_event.wait(self._interval)

    def __enter__(self) -> MemoryPeak:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop_event.set()
        self.join()


def _size(sample: dict) -> float:
    return sample["pss_mb"] if sample["pss_mb"] is not None else sample["rss_mb"]


class CpuMeter:
    """CPU seconds spent by each party while a part runs: who competes for the cores."""

    def __init__(self, parties: dict[str, ManagedProcess | None]):
        self._parties = parties

    @staticmethod
    def _cpu(process: ManagedProcess | None) -> float:
        total = 0.0
        for proc in process_tree(process) if process else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    @staticmethod
    def _own(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> CpuMeter:
        self._wall = time.perf_counter()
        self._client = self._own(resource.RUSAGE_SELF)
        self._tools = self._own(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        self._start = {name: self._cpu(p) for name, p in self._parties.items()}
        self._machine = self._busy()
        return self

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    def __exit__(self, *exc_info) -> None:
        wall = time.perf_counter() - self._wall
        used = {
            "load generator (this script)": self._own(resource.RUSAGE_SELF) - self._client,
        }
        tools = self._own(resource.RUSAGE_CHILDREN) - self._tools
        if tools > 0.01:
            used["wrk"] = tools
        for name, process in self._parties.items():
            used[name] = self._cpu(process) - self._start[name]
        # Whatever else runs on the machine takes cores from the benchmark too.
        used["other processes"] = max(0.0, self._busy() - self._machine - sum(used.values()))
        self.result = {
            "wall_s": round(wall, 2),
            "cores_used": {name: round(seconds / wall, 2) for name, seconds in used.items()},
        }


def cpu_line(cpu: dict) -> str:
    parts = ", ".join(f"{name} {cores:.2f}" for name, cores in cpu["cores_used"].items())
    return f"  CPU cores used over {cpu['wall_s']:.1f} s: {parts} (of {os.cpu_count()})"


def api_cpu_ms(cpu: dict, requests: int) -> float | None:
    """The chat API's CPU time per request (its DynamoDB and model calls included)."""
    cores = cpu["cores_used"].get("chat API")
    if cores is None or not requests:
        return None
    return round(cores * cpu["wall_s"] / requests * 1000, 1)
