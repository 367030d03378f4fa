# fastgate call server. Build: docker build -t fastgate . ; run: docker run -p 8080:8080 -e OPENAI_API_KEY=… fastgate
# Stage 1 compiles the Cython core into a wheel; stage 2 installs only that wheel (no compiler in the image).
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 fastgate
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER fastgate
WORKDIR /home/fastgate
ENV FASTGATE_HOST=0.0.0.0 FASTGATE_PORT=8080 FASTGATE_DB=/home/fastgate/data/leads.db
RUN mkdir -p /home/fastgate/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"
# SIGTERM: no new calls (503), calls in progress finish for --drain-seconds (30 s)
STOPSIGNAL SIGTERM
ENTRYPOINT ["fastgate-bridge"]
CMD ["serve"]
