# One image for every process: `api` (default), `worker`, `migrate`. The migrations ship inside the package.
#   docker build -t rakuten-connector .
#   docker run --rm --env-file .env rakuten-connector migrate
#   docker run --rm --env-file .env -p 8000:8000 rakuten-connector
#   docker run --rm --env-file .env rakuten-connector worker
# No HEALTHCHECK here: the right check depends on the role the container is started with (an HTTP probe
# for the API, the worker's heartbeat, none for the one-shot migrate), so each role's check is declared
# where the role is, in docker-compose.yml (or the orchestrator's probes).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 APP_ENV=production
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
USER app
EXPOSE 8000
ENTRYPOINT ["rakuten-connector"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
