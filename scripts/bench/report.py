"""The run's report (printed as it goes and written as JSON at the end)."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
from dataclasses import dataclass, field
from importlib import metadata

import psutil


@dataclass
class Report:
    command: str
    started_at: str
    machine: dict
    plan: dict
    setup: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    streams: dict = field(default_factory=dict)
    health: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)
    targets: list = field(default_factory=list)
    started_pids: list = field(default_factory=list)


def say(text: str = "") -> None:
    print(text, flush=True)


def machine_facts() -> dict:
    versions = {}
    for package in ("gunicorn", "gevent", "flask", "boto3", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    wrk = shutil.which("wrk")
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "wrk": wrk,
    }
