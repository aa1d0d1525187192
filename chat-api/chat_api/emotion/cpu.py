"""What the CPU offers the int8 encoder.

ONNX Runtime's int8 matrix products use the CPU's int8 dot-product instructions where it has
them (AVX-512 VNNI, AVX-VNNI or AMX on x86, the dot-product extension on ARM) and fall back to
plain AVX2 where it has not. On an AMD EPYC host without them the encoder's four layers took
30 ms for 64 WordPieces, barely faster than float32 (43 ms), and a 500-character message p95
49.5 ms against the 10 ms budget (docs/emotion-model.md). The instructions are named in the
load log line so that an operator can tell which kind of host a task landed on.
"""

from __future__ import annotations

from pathlib import Path

INT8_DOT_PRODUCT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp")
CPUINFO = Path("/proc/cpuinfo")


def _read() -> str:
    try:
        return CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def int8_dot_product(cpuinfo: str | None = None) -> list[str]:
    """The int8 dot-product instructions the CPU reports (x86 `flags`, ARM `Features`); an
    empty list where it has none or cannot be read."""
    flags: set[str] = set()
    for line in (_read() if cpuinfo is None else cpuinfo).splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return [flag for flag in INT8_DOT_PRODUCT_FLAGS if flag in flags]


def cpu_model(cpuinfo: str | None = None) -> str:
    for line in (_read() if cpuinfo is None else cpuinfo).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return "unknown"
