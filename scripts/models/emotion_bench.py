"""The emotion detector's cost in the chat API process: `make bench-emotion`.

Prints: the CPU and its int8 dot-product instructions, model load time, resident memory the
loaded model adds, per-message latency (p50, p95, max) for messages of about 500 characters and
for dev-split-like short messages, the same for what the chat API runs per message (the emotion
and the self-harm risk level from one encoder pass: `analyse`, then `safety.assess` with the
rules and the risk classifier), and the throughput of `make emotion-predict` (lines/s, process
start included). Messages come from the shared dev split when it is there, else from a fixed
built-in set.
"""

from __future__ import annotations

import gc
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "chat-api"))

from emotion_eval import load_split  # noqa: E402  (this script's folder is on sys.path)

FALLBACK = [
    "I am so angry, this is completely unfair!",
    "Ugh, that is disgusting and gross.",
    "I'm scared and anxious about the results.",
    "This is wonderful, thank you so much!",
    "The meeting moved to 3 pm on Thursday.",
    "I feel so lonely and sad tonight.",
    "Wow, I did not expect that at all!",
]
LONG_CHARS = 500


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_summary() -> str:
    from chat_api.emotion.cpu import cpu_model, int8_dot_product

    present = int8_dot_product()
    dot = ", ".join(present) if present else "none"
    return f"{cpu_model()}; int8 dot-product instructions: {dot}"


def messages() -> list[str]:
    try:
        return [example.text for example in load_split("dev")]
    except FileNotFoundError:
        return FALLBACK * 200


def long_messages(texts: list[str], count: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < LONG_CHARS:
            parts.append(rng.choice(texts))
        out.append(" ".join(parts)[:LONG_CHARS])
    return out


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, max {ordered[-1]:.2f} ms"


def latency(run, texts: list[str]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per message; on a shared machine the wall clock also
    counts time other processes held the core, the CPU time does not."""
    wall, cpu = [], []
    for text in texts:
        started, started_cpu = time.perf_counter(), time.thread_time()
        run(text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall, cpu


def report(name: str, run, texts: list[str]) -> None:
    wall, cpu = latency(run, texts)
    print(f"latency, {name} (n={len(texts)}): wall {percentiles(wall)}; cpu {percentiles(cpu)}")


def predict_throughput(texts: list[str]) -> float:
    payload = "\n".join(text.replace("\n", " ") for text in texts) + "\n"
    started = time.perf_counter()
    subprocess.run(
        ["make", "--no-print-directory", "emotion-predict"],
        cwd=REPO_ROOT,
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return len(texts) / (time.perf_counter() - started)


def main() -> int:
    rng = random.Random(7)  # noqa: S311 (a fixed sample, not a secret)
    # The int8 encoder's speed depends most on these instructions (chat_api/emotion/cpu.py).
    print(f"cpu: {cpu_summary()}")
    texts = messages()
    gc.collect()
    before = rss_kib()
    started = time.perf_counter()
    from chat_api.emotion import load_detector

    detector = load_detector()
    load_s = time.perf_counter() - started
    gc.collect()
    added_mib = (rss_kib() - before) / 1024
    print(f"detector: {type(detector).__name__}")
    print(f"load: {load_s:.3f} s (import included)")
    print(f"rss added: {added_mib:.1f} MiB")
    from chat_api.safety import assess, risk_head

    started = time.perf_counter()
    risk_head()
    print(f"risk classifier load: {time.perf_counter() - started:.3f} s")

    def emotion_and_risk(text: str) -> None:
        _, states = detector.analyse(text)
        assess(text, states)

    latency(detector.detect, texts[:200])  # warm-up
    long = long_messages(texts, 1000, rng)
    short = rng.sample(texts, min(2000, len(texts)))
    report(f"{LONG_CHARS}-char messages", detector.detect, long)
    report("dev messages", detector.detect, short)
    report(f"emotion + risk, {LONG_CHARS}-char messages", emotion_and_risk, long)
    report("emotion + risk, dev messages", emotion_and_risk, short)
    print(f"make emotion-predict: {predict_throughput(texts):.0f} lines/s ({len(texts)} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
