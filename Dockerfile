# The engine's image: `main.py run --headless` as a non-root service, ledger in /data, logs in
# /logs (volumes), health from `main.py health`. The same image runs `main.py tws-sim`.
#
#   docker compose build                  # what a user runs: python:3.11-slim + pip install
#
# Build arguments (docs: README "Deploy with Docker"):
#   BASE       the base image. Default: the official Python image. Any Debian bookworm image
#              works too (CI builds its own with debootstrap: no registry there); if it has no
#              python3.11, Debian's python3 (3.11 in bookworm) is installed with apt.
#   WHEELHOUSE a folder of wheels inside the build context (`pip wheel` on a host that reaches
#              the package index): installed with `pip install --no-index`, so the build
#              itself needs no index. Unset: a plain `pip install` from the index.
# Nothing secret is in the image: IB credentials belong to the IB Gateway container, a database
# password to the environment (PGPASSWORD), never to a file here.
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG WHEELHOUSE=
ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

# A plain Debian base (no python3.11 on PATH): Debian bookworm's own Python 3.11, nothing else.
RUN if ! command -v python3.11 >/dev/null 2>&1; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3.11 -m venv /opt/venv

# The dependencies first (a layer that changes only with pyproject.toml): the project's own
# list plus the PostgreSQL driver (the `postgres` extra), read from pyproject.toml.
COPY pyproject.toml /tmp/build/
# With WHEELHOUSE unset this copies pyproject.toml again, harmlessly: COPY needs a source.
COPY ${WHEELHOUSE:-pyproject.toml} /tmp/build/wheelhouse/
RUN python -c "import tomllib; p = tomllib.load(open('/tmp/build/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" \
        > /tmp/build/requirements.txt \
    && if [ -n "$WHEELHOUSE" ]; then \
        pip install --no-index --find-links /tmp/build/wheelhouse -r /tmp/build/requirements.txt; \
    else \
        pip install -r /tmp/build/requirements.txt; \
    fi \
    && rm -rf /tmp/build

# The user the engine runs as (uid 10001 whatever the base), and its volumes (created here so that a new named volume starts
# owned by it, 0700: the ledger, the control socket and the logs are the owner's only).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/engine \
        --shell /usr/sbin/nologin engine \
    && mkdir -p /data /logs \
    && chown engine:engine /data /logs \
    && chmod 0700 /data /logs

# The code, owned by root: the service cannot change what it runs.
WORKDIR /app
COPY core /app/core
COPY actors /app/actors
COPY broker /app/broker
COPY db /app/db
COPY engine /app/engine
COPY tui /app/tui
COPY main.py pyproject.toml /app/
# The container's config is the default one (`main.py status`, `attach`, `report` need no
# --config); docker-compose.yml mounts deploy/config.toml over it, so an edit needs no rebuild.
COPY deploy/config.toml /app/config.toml
# A relative data/ or logs/ (a command's default, e.g. the attached dashboard's own log in
# logs/attach) lands in the volumes too: the code's folder is not writable. Compiled once here,
# so that neither the engine nor each health check compiles it again.
RUN ln -s /data /app/data && ln -s /logs /app/logs \
    && python -m compileall -q core actors broker db engine tui main.py

USER engine
VOLUME ["/data", "/logs"]
# The engine stops on SIGTERM within its 5 s (`docker compose down`, `docker stop`).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "main.py", "health"]
CMD ["python", "main.py", "run", "--headless", "--broker", "ib"]
