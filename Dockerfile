# syntax=docker/dockerfile:1
# alert-explainer: two stages. `build` installs the locked dependencies and the project into a
# virtualenv at /app with scripts/install-runtime (the same script tests/deploy/test_dockerfile.py
# runs); `runtime` copies only that virtualenv onto a clean slim Python. Both stages use the same
# base image, so /app/bin/python points at the same interpreter path in each.
#
#   docker build -t alert-explainer:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only -e CLANKER_CLOUD_API_KEY alert-explainer:0.1.0

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# Inputs of the install only (.dockerignore keeps everything else out of the context).
COPY requirements/build.lock requirements/runtime.lock requirements/
COPY scripts/install-runtime scripts/
COPY pyproject.toml README.md ./
COPY service/ service/

# 1. Hash-locked wheels only, no build isolation: nothing unpinned is downloaded. The cache
#    mount keeps pip's downloads across builds without putting them in a layer.
# 2. The build backend (hatchling and its dependencies) only built the project: drop it.
# 3. Byte-compile everything here, so the read-only runtime never tries to write .pyc files.
RUN --mount=type=cache,target=/root/.cache/pip \
    scripts/install-runtime /app \
    && /app/bin/python -m pip uninstall --yes -r requirements/build.lock \
    && /app/bin/python -m compileall -q /app/lib

FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="alert-explainer" \
      org.opencontainers.image.description="Explains Prometheus Alertmanager notifications in plain language and forwards them to chat tools." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

# Unbuffered logs; never write bytecode at run time (the root filesystem may be read-only).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/app/bin:$PATH

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app

# Owned by root and read-only for the service user.
COPY --from=build /app /app

# Smoke test: the entry point imports and runs on this interpreter.
RUN alert-explainer --version

# Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
EXPOSE 8080
# uvicorn stops on SIGTERM (Docker's and Kubernetes' default stop signal): it stops accepting,
# lets in-flight explanations finish for server.shutdown_grace (25 s) and exits.
ENTRYPOINT ["alert-explainer"]
CMD ["serve"]
