# syntax=docker/dockerfile:1
# Multi-stage: GraphiQL's assets are built from npm packages, the gateway from PyPI;
# the runtime image has neither node nor a compiler, and runs as a non-root user.

FROM node:22-bookworm-slim AS graphiql
WORKDIR /build/gateway/graphiql
COPY gateway/graphiql/package.json gateway/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY gateway/graphiql/ ./
RUN npm run --silent build

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY gateway/ gateway/
COPY --from=graphiql /build/gateway/static/graphiql/ gateway/static/graphiql/
RUN python -m venv /opt/gateway \
 && /opt/gateway/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/gateway/bin/pip install --no-cache-dir ".[otlp]"

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin gateway
COPY --from=build /opt/gateway /opt/gateway
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GATEWAY_CONFIG=/etc/gateway/gateway.toml
USER gateway
EXPOSE 8000
# The config file is mounted at $GATEWAY_CONFIG; its secrets come from the environment
# through ${NAME} references. `gateway serve --sandbox` needs neither.
# Without a proxy: Docker hands its client's proxy settings to every container, and
# urllib would send even 127.0.0.1 through them.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u; o = u.build_opener(u.ProxyHandler({})); sys.exit(0 if o.open('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
