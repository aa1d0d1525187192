# syntax=docker/dockerfile:1
# One target per container image:
#   docker build --target chat-api -t chat-api .
#   docker build --target web-ui -t web-ui .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- what both images' dependency stages start from: an empty virtual environment ------------
FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv

# --- what both runtime images share --------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# The shared package (standard library only) beside the app, on the path as the working folder.
COPY common/chatbot_common ./chatbot_common
# A numeric, unprivileged user: Kubernetes- and ECS-style runAsNonRoot checks need the number.
USER 10001:10001

# --- chat API: dependencies built into the virtual environment -----------------------------
FROM venv AS chat-api-build
COPY chat-api/requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt

# --- chat API: runtime image -----------------------------------------------------------------
FROM runtime AS chat-api
ENV CHAT_API_BIND=0.0.0.0:8080
COPY --from=chat-api-build /opt/venv /opt/venv
COPY chat-api/gunicorn.conf.py ./
COPY chat-api/chat_api ./chat_api
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=2).status == 200 else 1)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "chat_api:create_app()"]

# --- web UI (the Reflex backend: state and websocket): dependencies ------------------------
FROM venv AS web-ui-build
COPY web-ui/requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt

# --- web UI: runtime image -------------------------------------------------------------------
# Serves the Reflex backend only; the static frontend is exported for Amplify
# (`make web-ui-export`). More than one task needs a shared state store: set
# REFLEX_REDIS_URL (without it, state lives on the task's disk and only one worker runs).
FROM runtime AS web-ui
ENV REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_DIR=/tmp/reflex/home \
    REFLEX_WEB_WORKDIR=/tmp/reflex/web \
    REFLEX_STATES_WORKDIR=/tmp/reflex/states
COPY --from=web-ui-build /opt/venv /opt/venv
COPY web-ui/rxconfig.py ./
COPY web-ui/web_ui ./web_ui
COPY web-ui/assets ./assets
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/ping', timeout=2).status == 200 else 1)"]
CMD ["reflex", "run", "--env", "prod", "--backend-only", "--backend-host", "0.0.0.0", "--backend-port", "8000"]
