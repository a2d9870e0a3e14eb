# Multi-stage build of streamfit-server on Debian 12.
#   docker build -t streamfit .
#   docker run -p 50051:50051 -v streamfit-data:/data streamfit
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
      --no-install-recommends build-essential cmake ninja-build pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libeigen3-dev libabsl-dev libxxhash-dev liblbfgspp-dev libssl-dev \
      libspdlog-dev prometheus-cpp-dev \
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
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data streamfit \
    && mkdir -p /data && chown streamfit /data
COPY --from=build /src/build/server/streamfit-server /usr/local/bin/
COPY --from=build /src/build/client/streamfit /usr/local/bin/
USER streamfit
VOLUME /data
EXPOSE 50051
ENTRYPOINT ["streamfit-server", "--address=0.0.0.0:50051", "--data_dir=/data"]
