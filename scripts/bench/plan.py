"""What a run does: its sizes (full or quick), the messages sent and the targets judged."""

from __future__ import annotations

from dataclasses import dataclass

# A few users stand in for many: a tier whose limits never bind, so the limits' own DynamoDB
# counters are measured, not the limits.
BENCH_TIER = {
    "messages_per_minute": 1_000_000,
    "tokens_per_day": 1_000_000_000,
    "concurrent_streams": 100_000,
}

# Targets; the other figures are reported without a pass/fail.
TARGET_HEALTH_RATIO = 0.5  # chat API req/s >= 0.5 x the bare app's
TARGET_MEMORY_MB = 400.0  # whole instance (PSS summed over master + workers), peak of part 2
TARGET_ADDED_P99_MS = 25.0  # the API's own time (Server-Timing total - storage - model), 64 users
TARGET_CPU_MS_PER_CHAT = 8.0  # the chat API's CPU per chat request, 64 users
TARGET_STREAMS = 256  # simultaneous streams held with no error
DYNAMODB_TIMEOUT_S = 30  # the chat API's default is 3 s; see __main__.run()

# One message per emotion, so the emotion detector and the prompts see some variety.
MESSAGES = (
    "I am so angry that my train was cancelled again",
    "That meal was disgusting, I feel sick",
    "I am worried about my exam tomorrow",
    "Wow, I passed! I am so happy",
    "What time does the library open on Sundays?",
    "I miss my grandmother, she died last month",
    "I can't believe it, they gave me the job without an interview!",
)


@dataclass(frozen=True)
class Plan:
    users: int  # Cognito users signed in; virtual users share their tokens round-robin
    virtual_users: int  # the largest level of part 1 (its targets are judged there)
    latency_levels: tuple[int, ...]  # part 1's levels of concurrency, in virtual users
    requests_per_user: int
    ttft_ms: int
    stream_inter_token_ms: int  # part 2 only; part 1 runs with no per-token delay
    stream_levels: tuple[int, ...]
    compare_level: int
    wrk_threads: int
    wrk_connections: int
    wrk_seconds: int
    wrk_warmup_seconds: int
    wrk_rounds: int  # chat API and bare app alternate (ABBA...), so drift hits both alike
    request_deadline_s: float  # one request, from sending to its last byte


FULL = Plan(
    # One Cognito user per virtual user of part 1: a user's stream slot is one DynamoDB item
    # written with a condition, so fewer users sharing hundreds of streams collide on it and get
    # 429s the per-user limits would never give real users.
    users=64,
    virtual_users=64,
    latency_levels=(1, 16, 64),
    requests_per_user=5,
    ttft_ms=2000,
    stream_inter_token_ms=30,
    stream_levels=(128, 256, 384, 512),
    compare_level=256,
    wrk_threads=2,
    wrk_connections=64,
    wrk_seconds=10,
    wrk_warmup_seconds=2,
    wrk_rounds=2,
    request_deadline_s=90,
)


QUICK = Plan(
    users=2,
    virtual_users=4,
    latency_levels=(1, 4),
    requests_per_user=2,
    ttft_ms=200,
    stream_inter_token_ms=5,
    stream_levels=(8, 16),
    compare_level=16,
    wrk_threads=1,
    wrk_connections=8,
    wrk_seconds=1,
    wrk_warmup_seconds=0,
    wrk_rounds=1,
    request_deadline_s=30,
)
