"""Gunicorn settings shared by `make run`, the tests, the benchmark and the container image.

gevent workers: a chat stream spends seconds waiting on Bedrock, so each worker must hold many
open requests at once without a thread each (see docs/benchmarks.md for the measurements).
"""

import gc
import logging
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
        # The app's own JSON lines (chatbot_common.logs), for Gunicorn's lines too.
        "json": {"()": "chatbot_common.logs.JsonFormatter"}
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
    from chat_api.config import Settings
    from chatbot_common.environments import SettingsError

    try:
        Settings.from_env()
    except SettingsError as exc:
        print(f"chat-api: configuration error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    # The benchmark serves a bare Flask app with this file too; it has no model to load.
    if str(getattr(server.app, "app_uri", "chat_api")).startswith("chat_api"):
        preload_models()


def preload_models():
    """Loads the emotion model (ONNX encoder + TF-IDF) and the risk model once, in the master.

    Each worker forked afterwards inherits them, so their memory counts once per instance
    rather than once per worker, and a worker restarted after a crash is serving at once.
    create_app() in the worker finds them loaded (chat_api.emotion.shared_detector and
    chat_api.safety.risk_head are cached per process). The ONNX Runtime session runs on the
    calling thread only (intra/inter-op threads = 1), so the master has no thread pool to lose in
    the fork. gevent's monkey patching is done above, before these imports.
    """
    from chat_api.emotion import shared_detector
    from chat_api.safety import risk_head

    shared_detector()
    risk_head()


def pre_fork(server, worker):
    """Moves everything allocated so far out of the garbage collector's reach, so that its
    passes in the workers do not write into (and so copy) the pages of the shared models."""
    gc.freeze()


def worker_exit(server, worker):
    """Ends a worker without the interpreter's exit handlers and C++ static destructors.

    The ONNX Runtime environment was created in the master (preload_models); destroying it in a
    forked worker waits for, or aborts over, threads that exist only in the master. Nothing in
    a worker needs those destructors: the log handlers are flushed here, the sockets are closed
    by the kernel. The exit status is the one the worker was leaving with (Gunicorn's master
    reads it, e.g. a boot error stops the master).
    """
    if worker.pid != os.getpid():  # the master calls this hook too, for a worker already gone
        return
    error = sys.exc_info()[1]
    status = error.code if isinstance(error, SystemExit) else int(error is not None)
    if status is None:
        status = 0
    elif not isinstance(status, int):
        status = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
