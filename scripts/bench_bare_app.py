"""A bare Flask app with only the chat API's liveness route.

The benchmark serves it with the chat API's own Gunicorn settings, so the difference between the
two on GET /api/v1/health is what the chat API's code adds per request (hooks, logging, ...).
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/api/v1/health")
    def health():
        return {"status": "ok"}

    return app
