"""Locust journeys of a person using the chatbot (run by `make load-test`, scripts/load/run.py).

Each simulated user signs in with Cognito (InitiateAuth over plain HTTPS, as the web app does),
then starts conversations and continues them over `/chat/stream`, opens its history and rates
replies, pausing like a person who reads the reply and types the next message. A ramp shape
brings the users in over the first quarter, holds them and stops the run by itself.

Settings come from the environment (the runner sets them): LOAD_CREDENTIALS (a JSON file of
test users), LOAD_COGNITO_URL, LOAD_COGNITO_CLIENT_ID, LOAD_USERS, LOAD_DURATION_S,
LOAD_PACE (1 = human typing speed; smaller compresses the pauses), LOAD_THRESHOLDS (JSON file)
and LOAD_TARGET_KIND (local or deployed: which thresholds of the file apply).

Streamed chats also record two derived entries in Locust's statistics (type `SSE`):
`first delta` (time until the first `delta` event) and `first token beyond model` (the client's
time to `done` minus `model_latency_ms` of `done`: what the chat API, the network and the
storage add to the model's own latency). The run fails when the thresholds are crossed.
"""

# Random choices here pick messages and pauses of simulated users, nothing secret.
# ruff: noqa: S311

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time

from locust import HttpUser, LoadTestShape, events, task

from chatbot_common.sse import json_events

CREDENTIALS = json.loads(open(os.environ["LOAD_CREDENTIALS"]).read())  # noqa: SIM115
COGNITO_URL = os.environ["LOAD_COGNITO_URL"]
CLIENT_ID = os.environ["LOAD_COGNITO_CLIENT_ID"]
USERS = int(os.environ.get("LOAD_USERS", "10"))
DURATION_S = float(os.environ.get("LOAD_DURATION_S", "60"))
PACE = float(os.environ.get("LOAD_PACE", "1"))
THRESHOLDS = json.loads(open(os.environ["LOAD_THRESHOLDS"]).read())[  # noqa: SIM115
    os.environ.get("LOAD_TARGET_KIND", "local")
]

# A person types about 40 words a minute (about 3.5 characters a second) and reads a reply at
# about 15 characters a second.
TYPING_CHARS_PER_S = 3.5
READING_CHARS_PER_S = 15.0
FIRST_DELTA = "first delta"
ADDED = "first token beyond model"

OPENERS = [
    "I am worried about my exam tomorrow, I have not slept well all week.",
    "Wow, I passed my driving test today!",
    "My sister did not call me on my birthday and I feel forgotten.",
    "Can you help me plan a calm evening after a long day at work?",
    "I just found out the flight I booked was cancelled. I am so angry.",
    "Something strange happened at the office today and I do not know what to think.",
]
FOLLOW_UPS = [
    "Thanks, that helps. What should I do first?",
    "Can you say that in fewer words?",
    "I tried that already and it did not work.",
    "That makes sense. Anything else I could try tonight?",
    "Honestly I feel a bit better now.",
]

_accounts = itertools.cycle(CREDENTIALS)
_accounts_lock = threading.Lock()


def _next_account() -> dict:
    with _accounts_lock:
        return next(_accounts)


class ChatUser(HttpUser):
    """One person: signs in, chats, reads, sometimes looks back or rates a reply."""

    def __init__(self, environment):
        super().__init__(environment)
        self.token = ""
        self.conversation_id: str | None = None
        self.last_reply_id: str | None = None
        self.next_message = random.choice(OPENERS)
        self.last_reply = ""

    def wait_time(self) -> float:
        # Reading the last reply, then typing the next message, at the configured pace.
        reading = len(self.last_reply) / READING_CHARS_PER_S
        typing = len(self.next_message) / TYPING_CHARS_PER_S
        return PACE * (reading + typing) * random.uniform(0.7, 1.3)

    def on_start(self) -> None:
        self.sign_in()

    def sign_in(self) -> None:
        account = _next_account()
        with self.client.post(
            COGNITO_URL,
            name="cognito InitiateAuth",
            data=json.dumps(
                {
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "ClientId": CLIENT_ID,
                    "AuthParameters": {
                        "USERNAME": account["email"],
                        "PASSWORD": account["password"],
                    },
                }
            ),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
            },
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"sign-in answered {response.status_code}")
                return
            self.token = response.json()["AuthenticationResult"]["AccessToken"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _chat(self, continued: bool) -> None:
        if not self.token:
            self.sign_in()
            return
        body = {"message": self.next_message}
        if continued and self.conversation_id:
            body["conversation_id"] = self.conversation_id
        name = "/chat/stream (continued)" if "conversation_id" in body else "/chat/stream (new)"
        started = time.perf_counter()
        first_delta = None
        done = None
        reply = []
        with self.client.post(
            "/api/v1/chat/stream",
            name=name,
            json=body,
            headers={**self.auth, "Accept": "text/event-stream"},
            stream=True,
            catch_response=True,
        ) as response:
            if response.status_code == 401:
                self.token = ""
                response.failure("401: token expired or refused; signing in again")
                return
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.text[:200]}")
                return
            # chunk_size=None: lines as the bytes arrive, so the first delta is timed when it
            # comes, not when a 512-byte buffer fills.
            lines = response.iter_lines(chunk_size=None, decode_unicode=True)
            for event, data in json_events(lines):
                if event == "meta":
                    self.conversation_id = data.get("conversation_id")
                    self.last_reply_id = data.get("message_id")
                elif event == "delta":
                    if first_delta is None:
                        first_delta = time.perf_counter()
                    reply.append(data.get("text", ""))
                elif event == "done":
                    done = (time.perf_counter(), data)
                elif event == "error":
                    response.failure(f"error event {data.get('code')}")
                    self.conversation_id = None
                    return
            if done is None:
                response.failure("the stream ended without a done event")
                return
            response.success()
        finished, data = done
        self.last_reply = "".join(reply)
        self.next_message = random.choice(FOLLOW_UPS)
        elapsed_ms = (finished - started) * 1000
        model_ms = float(data.get("model_latency_ms") or 0)
        fire = self.environment.events.request.fire
        if first_delta is not None:
            fire(
                request_type="SSE",
                name=FIRST_DELTA,
                response_time=(first_delta - started) * 1000,
                response_length=0,
                exception=None,
                context={},
            )
        fire(
            request_type="SSE",
            name=ADDED,
            response_time=max(0.0, elapsed_ms - model_ms),
            response_length=0,
            exception=None,
            context={},
        )

    @task(3)
    def new_conversation(self) -> None:
        self.next_message = random.choice(OPENERS)
        self._chat(continued=False)

    @task(5)
    def continue_conversation(self) -> None:
        self._chat(continued=True)

    @task(2)
    def open_history(self) -> None:
        if not self.token:
            return
        with self.client.get(
            "/api/v1/conversations?limit=20", headers=self.auth, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return
            listed = response.json().get("conversations") or []
        if listed:
            chosen = random.choice(listed)
            self.client.get(
                f"/api/v1/conversations/{chosen['conversation_id']}",
                name="/conversations/{id}",
                headers=self.auth,
            )

    @task(1)
    def rate_reply(self) -> None:
        if not (self.token and self.conversation_id and self.last_reply_id):
            return
        self.client.post(
            "/api/v1/feedback",
            json={
                "conversation_id": self.conversation_id,
                "message_id": self.last_reply_id,
                "rating": random.choice(["up", "up", "up", "down"]),
            },
            headers=self.auth,
        )


class RampUpAndHold(LoadTestShape):
    """Up to LOAD_USERS over the first quarter of the run, hold, then stop.

    No ramp-down: users that Locust stops while a shape lowers the count and then stops again
    at the end trip Locust 2.47 ("Tried to stop User in an unexpected state"); the stop at the
    end lets each user finish its stream (--stop-timeout)."""

    def tick(self):
        elapsed = self.get_run_time()
        if elapsed >= DURATION_S:
            return None
        ramp_up = DURATION_S * 0.25
        users = USERS if elapsed >= ramp_up else max(1, round(USERS * elapsed / ramp_up))
        return users, max(1.0, USERS / max(ramp_up, 1.0))


@events.quitting.add_listener
def check_thresholds(environment, **_kwargs) -> None:
    """Print the verdict and make the run fail when a threshold is crossed."""
    stats = environment.stats
    total = stats.total
    error_rate = 100.0 * total.num_failures / max(total.num_requests, 1)
    added = stats.get(ADDED, "SSE")
    added_p95 = added.get_response_time_percentile(0.95) if added.num_requests else None
    lines = [
        ("requests", f"{total.num_requests}", ""),
        ("error rate", f"{error_rate:.2f} %", f"<= {THRESHOLDS['error_rate_percent']} %"),
        (
            "first token beyond model, p95",
            "n/a" if added_p95 is None else f"{added_p95:.0f} ms",
            f"<= {THRESHOLDS['first_token_added_p95_ms']} ms",
        ),
    ]
    failed = []
    if error_rate > THRESHOLDS["error_rate_percent"]:
        failed.append("error rate")
    if added_p95 is None:
        failed.append("no streamed chat completed")
    elif added_p95 > THRESHOLDS["first_token_added_p95_ms"]:
        failed.append("first token beyond model")
    print("\nLoad test verdict")
    for label, value, limit in lines:
        print(f"  {label:<32} {value:>10}  {limit}")
    print("  " + ("FAIL: " + ", ".join(failed) if failed else "PASS"))
    if failed:
        environment.process_exit_code = 1
