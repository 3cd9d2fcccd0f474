# syntax=docker/dockerfile:1.4
# kalshi-collector in a container: the collector, and the daily weather and backfill jobs.
#
#   docker build -t kalshi-collector .                       # core install only
#   docker build --build-arg EXTRAS=s3 -t kalshi-collector .  # + object-store data_dir (s3://...)
#   docker compose up -d                                     # compose.yaml: collector + daily jobs
#
# The key comes from KALSHI_PRIVATE_KEY_B64 (decoded to a 0600 file by the entrypoint) or from a
# mounted file named by KALSHI_PRIVATE_KEY_PATH. Config at $COLLECTOR_CONFIG (/app/config.yaml),
# data in the /app/data volume. See docs/operations.md#docker.
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COLLECTOR_CONFIG=/app/config.yaml \
    KALSHI_KEY_DIR=/tmp/kalshi \
    METRICS_PORT=9108

# the package only (no tests, no dev tools); every dependency ships wheels, so no compiler
COPY pyproject.toml README.md /build/
COPY src /build/src
RUN pip install "/build${EXTRAS:+[$EXTRAS]}" && rm -rf /build

COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/docker-entrypoint
COPY --chmod=0755 deploy/kalshi-collector-daily /usr/local/bin/kalshi-collector-daily

RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home --shell /usr/sbin/nologin kalshi \
    && install -d -o kalshi -g kalshi -m 0750 /app/data
USER kalshi
WORKDIR /app
VOLUME ["/app/data"]
# /healthz and /metrics; the config's metrics.host must be 0.0.0.0 to reach them from outside
EXPOSE 9108

HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["docker-entrypoint", "healthcheck"]
ENTRYPOINT ["docker-entrypoint"]
CMD ["collect"]
