# Maskline's production image: the package and its dependencies, no development tools.
#   docker build -t maskline .
#   docker run -p 8080:8080 -e MASKLINE_ACCOUNT_SID=AC... -e MASKLINE_AUTH_TOKEN=... maskline
# Arguments after the image name go to `maskline serve` (`--workers 4`); on PostgreSQL run
# `maskline migrate` first, as compose.yaml does (docs/deployment.md, "Upgrades and migrations").

# The base: Python 3.11 with pip and Debian's useradd. Another may be named with
# `--build-arg PYTHON_IMAGE=...` (tests/test_container.py builds on a Debian stand-in where no
# image registry can be reached).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS wheels
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/maskline --create-home maskline
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels maskline && rm -rf /wheels
ENV MASKLINE_HOST=0.0.0.0 \
    MASKLINE_PORT=8080 \
    MASKLINE_DATABASE_URL=sqlite:////var/lib/maskline/maskline.db \
    MASKLINE_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER maskline
WORKDIR /var/lib/maskline
VOLUME ["/var/lib/maskline"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('MASKLINE_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["maskline", "serve"]
