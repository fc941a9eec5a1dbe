# pobi's worker image, used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY foundation ./foundation
COPY pobi ./pobi
COPY streams ./streams
COPY topics ./topics
COPY sinks ./sinks
COPY schemas ./schemas
COPY monitoring ./monitoring
RUN pip install --no-cache-dir . && useradd --system --uid 10001 pobi \
    && install -d -o pobi -m 700 /var/lib/pobi /var/lib/pobi/secrets
USER pobi
EXPOSE 9464
CMD ["pobi", "worker"]
