# The platform's image: the API, the workers, the migrations and the simulators, all through
# the `zcd` command. Two stages on one pinned base:
#   build    installs the locked runtime dependencies (requirements/runtime.txt, every file
#            hash-checked) into the virtualenv /opt/zcd and the project's own wheel into it;
#   (final)  that virtualenv alone, run by an unprivileged account.
# The dev servers, the PostgreSQL wheel and the test tools (extras `local` and `test`) are
# never installed here; tests/unit/test_compose.py reads this file to keep it so. The base is
# the exact Python of the lock (3.11, see requirements/runtime.txt's header) on Debian 12, the
# system CI tests on; pin its digest in the bank's registry (docs/deployment.md).

FROM python:3.11.15-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# the dependencies first: this layer is rebuilt only when the lock changes
COPY requirements/runtime.txt requirements/build.txt requirements/
RUN python -m venv /opt/zcd \
    && /opt/zcd/bin/pip install --no-deps --require-hashes -r requirements/runtime.txt \
    && python -m pip install --no-deps --require-hashes -r requirements/build.txt
COPY . .
# the project's wheel, built with the locked setuptools (no build-time download), then
# installed without dependencies: everything it needs came from the lock above
RUN python -m pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheel . \
    && /opt/zcd/bin/pip install --no-deps /tmp/wheel/zcd-*.whl \
    && /opt/zcd/bin/pip check

FROM python:3.11.15-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/zcd/bin:$PATH ZCD_LOG_FORMAT=json
RUN groupadd --system --gid 10001 zcd \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/zcd --create-home --shell /usr/sbin/nologin zcd
COPY --from=build /opt/zcd /opt/zcd
WORKDIR /var/lib/zcd
USER 10001:10001
CMD ["zcd", "--help"]
