# One image for every process: `api` (default), `worker`, `migrate`.
#   docker build -t rakuten-connector .
#   docker run --rm --env-file .env rakuten-connector migrate
#   docker run --rm --env-file .env -p 8000:8000 rakuten-connector
#   docker run --rm --env-file .env rakuten-connector worker
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 APP_ENV=production \
    ALEMBIC_CONFIG=/app/alembic.ini
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
ENTRYPOINT ["rakuten-connector"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
