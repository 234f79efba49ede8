# Two stages: the builder turns requirements.txt into wheels; the runtime installs only those wheels, so no compiler,
# no build cache and no pip download ever reaches the final image.
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim AS runtime

# FORWARDED_ALLOW_IPS empty: the server (uvicorn) reports each connection's own address, never the X-Forwarded-For a
# client sent; proxy mode checks that address against RANCHERSYNC_TRUSTED_PROXIES.
# PYTHONPATH: the code is imported from /app (not installed), also by scripts started elsewhere (the demo seed).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    PYTHONPATH=/app \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    RANCHERSYNC_DATABASE_URL=sqlite:////app/data/ranchersync.db \
    RANCHERSYNC_KEY_FILE=/app/data/secret.key \
    FORWARDED_ALLOW_IPS=""

RUN useradd --uid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
WORKDIR /app

COPY --from=builder /wheels /wheels
COPY requirements.txt /wheels/requirements.txt
RUN pip install --no-cache-dir --no-index --find-links=/wheels -r /wheels/requirements.txt \
    && rm -rf /wheels

# The code belongs to root and is only readable by the app user: a compromised process cannot rewrite the app.
# Bytecode is compiled here because the app user cannot write __pycache__ beside the sources.
COPY . .
RUN python -m compileall -q /app \
    && mkdir -p /app/data \
    && chown app:app /app/data \
    && chmod 0700 /app/data
# The SQLite database and the key file (secret.key, mode 0600) live here; without RANCHERSYNC_SECRET_KEY and without
# this volume, a database that already holds tokens refuses to start (ranchersync/security/keys.py) instead of making a key
# that could not read them.
VOLUME /app/data
USER app

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() == b'ok' else 1)"]

# 0.0.0.0 only here: inside a container the port is reached through Docker's or Kubernetes' network, and a
# non-loopback address makes the app require RANCHERSYNC_AUTH (oidc or proxy). `make run` stays on 127.0.0.1.
# Other commands run with the same image: `docker run IMAGE python -m ranchersync db upgrade`.
CMD ["python", "-m", "streamlit", "run", "serve.py", "--server.address=0.0.0.0", "--server.port=8501"]
