# logradar: `docker build -t logradar .` (deploy/docker-compose.yml builds it for you).
# Two stages: the wheel and its dependencies are built in the first, the runtime image gets
# only the virtualenv; it runs as an unprivileged user and keeps its state in /data.
FROM python:3.12.8-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/logradar && /opt/logradar/bin/pip install .

FROM python:3.12.8-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin logradar \
    && mkdir -p /data && chown logradar:logradar /data
COPY --from=build /opt/logradar /opt/logradar
ENV PATH=/opt/logradar/bin:$PATH PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# HTTP receivers, UI, API and /metrics; syslog (TCP and UDP)
EXPOSE 8080 5514 5514/udp
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["logradar"]
CMD ["up", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
