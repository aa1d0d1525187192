"""Gunicorn settings shared by `make run`, the tests, the benchmark and the container image.

gevent workers: a chat stream spends seconds waiting on Bedrock, so each worker must hold many
open requests at once without a thread each (see docs/benchmarks.md for the measurements).
"""

import multiprocessing
import os
import sys

# GUNICORN_WORKER_CLASS exists so the benchmark can compare worker models; gevent is the default.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
if worker_class == "gevent":
    # Patch before anything imports ssl (the master loads the app's config module in
    # on_starting, which pulls in botocore); patching later breaks ssl with a RecursionError.
    from gevent import monkey

    monkey.patch_all()

bind = os.environ.get("CHAT_API_BIND", "0.0.0.0:8080")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))  # used by the gthread worker only
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# Longer than the ALB's 60 s idle timeout, so the load balancer closes idle connections first
# and never sends a request into a connection Gunicorn is closing.
keepalive = 75
# On SIGTERM: stop accepting, give running streams this long to finish, then exit.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = 60
max_requests = 0
# Gunicorn 27 puts every instance's control socket at one per-user path; instances running side
# by side (the local stack and the tests) would replace each other's socket.
control_socket_disable = True
accesslog = None  # the app logs each request as a JSON line with its request id
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{asctime}{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}


def on_starting(server):
    """Checks the configuration once in the master, so a bad value stops it with one line."""
    from chat_api.config import ConfigError, Settings

    try:
        Settings.from_env()
    except ConfigError as exc:
        print(f"chat-api: configuration error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
