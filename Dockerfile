# Multi-stage build of streamfit-server on Debian 12.
#   docker build -t streamfit .
#   docker run -p 50051:50051 -p 9464:9464 -v streamfit-data:/data \
#     -v $PWD/tls:/etc/streamfit/tls:ro -v $PWD/auth:/etc/streamfit/auth:ro \
#     streamfit
# The server listens beyond loopback, so it needs TLS and tokens, read from
# the mounted files: tls/tls.crt, tls/tls.key, tls/ca.crt (the CA the health
# check trusts; the certificate must name localhost too) and auth/tokens
# (see README, "Running in production"). SIGHUP re-reads them.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
      --no-install-recommends build-essential cmake ninja-build pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libeigen3-dev libabsl-dev libxxhash-dev liblbfgspp-dev libssl-dev \
      libspdlog-dev prometheus-cpp-dev librdkafka-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSTREAMFIT_BUILD_TESTS=OFF -DSTREAMFIT_BUILD_BENCH=OFF \
    && ninja -C build streamfit-server streamfit

FROM debian:12-slim AS runtime
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
      --no-install-recommends libgrpc++1.51 libprotobuf32 \
      libabsl20220623 libssl3 libspdlog1.10 libfmt9 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 librdkafka1 \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data streamfit \
    && mkdir -p /data && chown streamfit /data
COPY --from=build /src/build/server/streamfit-server /usr/local/bin/
COPY --from=build /src/build/client/streamfit /usr/local/bin/
USER streamfit
VOLUME /data
EXPOSE 50051 9464
# Health is NOT_SERVING while the server recovers its models (replaying the
# sample log); failures within the start period do not count.
HEALTHCHECK --interval=10s --timeout=6s --start-period=300s --retries=3 \
  CMD ["streamfit", "health", "--server=localhost:50051", \
       "--tls_ca_file=/etc/streamfit/tls/ca.crt", "--timeout=5s"]
ENTRYPOINT ["streamfit-server", "--address=0.0.0.0:50051", "--data_dir=/data", \
            "--tls_cert_file=/etc/streamfit/tls/tls.crt", \
            "--tls_key_file=/etc/streamfit/tls/tls.key", \
            "--auth_tokens_file=/etc/streamfit/auth/tokens", \
            "--metrics_address=0.0.0.0:9464", "--log_format=json"]
