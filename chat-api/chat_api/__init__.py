"""The chat API: a Flask app served by Gunicorn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from .account import Account
from .auth import JwksCache, TokenVerifier
from .aws import Clients
from .bedrock import BedrockChat
from .config import Settings
from .emotion import EmotionDetector, shared_detector
from .errors import register_error_handlers
from .limits import UsageLimiter
from .logs import configure_logging, init_request_logging
from .readiness import Readiness
from .store import ConversationStore


@dataclass
class Services:
    settings: Settings
    clients: Clients
    store: ConversationStore
    bedrock: BedrockChat
    detector: EmotionDetector
    readiness: Readiness
    limiter: UsageLimiter
    account: Account


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """`test_config` may hold SETTINGS (a Settings) or ENV (a mapping read instead of the
    process environment)."""
    test_config = test_config or {}
    settings = test_config.get("SETTINGS") or Settings.from_env(test_config.get("ENV"))
    configure_logging(settings.log_level)

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False

    clients = Clients(settings)
    store = ConversationStore(
        clients.dynamodb, settings.conversations_table, retention_days=settings.retention_days
    )
    limiter = UsageLimiter(
        clients.dynamodb,
        settings.conversations_table,
        settings.tiers(),
        settings.usage_default_tier,
        lease_seconds=settings.stream_lease_seconds,
    )
    bedrock = BedrockChat(
        clients.bedrock,
        settings.bedrock_model_id,
        max_tokens=settings.bedrock_max_tokens,
        max_attempts=settings.bedrock_max_attempts,
        deadline_seconds=settings.bedrock_deadline,
        guardrail_id=settings.bedrock_guardrail_id,
        guardrail_version=settings.bedrock_guardrail_version,
    )
    readiness = Readiness(
        {
            "bedrock": lambda: bedrock.check(clients.probe("bedrock-runtime")),
            "dynamodb": lambda: clients.probe("dynamodb").describe_table(
                TableName=settings.conversations_table
            ),
        },
        cache_seconds=settings.readiness_cache_seconds,
    )
    app.extensions["chat_api"] = Services(
        settings=settings,
        clients=clients,
        store=store,
        bedrock=bedrock,
        detector=shared_detector(),
        readiness=readiness,
        limiter=limiter,
        account=Account(
            dynamodb=clients.dynamodb,
            cognito=clients.cognito,
            store=store,
            profiles_table=settings.profiles_table,
            feedback_table=settings.feedback_table,
            user_pool_id=settings.cognito_user_pool_id,
        ),
    )
    app.extensions["token_verifier"] = TokenVerifier(
        issuer=settings.cognito_issuer,
        client_ids=settings.accepted_client_ids(),
        jwks=JwksCache(
            settings.cognito_jwks_url,
            min_refresh_seconds=settings.jwks_min_refresh_seconds,
            failure_cache_seconds=settings.jwks_failure_cache_seconds,
        ),
        leeway_seconds=settings.jwt_leeway_seconds,
    )

    init_request_logging(app)
    register_error_handlers(app)
    from .routes import init_query_checks

    init_query_checks(app)

    from .openapi import bp as openapi_bp
    from .routes import chat, conversations, feedback, health, me, usage

    blueprints = (health.bp, chat.bp, conversations.bp, feedback.bp, usage.bp, me.bp, openapi_bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
