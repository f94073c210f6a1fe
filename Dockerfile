# The platform's image: API, worker, simulators and the zcd CLI share it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY integrations integrations
COPY store store
COPY api api
COPY worker worker
COPY simulators simulators
COPY runtime runtime
COPY cli cli
COPY local_stack local_stack
COPY demo demo
RUN pip install --no-cache-dir . && useradd --system --uid 10001 zcd
USER zcd
ENV ZCD_LOG_FORMAT=json
CMD ["zcd", "--help"]
