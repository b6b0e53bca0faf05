# projd container image: a build stage with the same Debian packages as
# scripts/install-deps.sh's build_packages (tests/deploy checks that they match), and a
# runtime stage with only the shared libraries projd links. The build stage also installs
# the SDK (headers, static libraries, find_package(projd)) under /usr/local, so a team builds
# its own worker FROM it: examples/sdk-worker/Dockerfile, docs/projections.md.
#
#   docker build --build-arg REVISION=$(git rev-parse --short=12 HEAD) -t projd:dev .
#   docker build --target build -t projd-build:dev .     # the SDK image teams build FROM
#   docker run --rm projd:dev --help

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates \
      libpqxx-dev libpq-dev libboost-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev \
      prometheus-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The revision for `projd --version` (.git is not copied): --build-arg REVISION=$(git rev-parse --short=12 HEAD)
ARG REVISION=unknown
# The worker executable to ship: `projd`, or a worker of yours made with projd_add_worker
# (for example --build-arg WORKER_TARGET=bank-worker); it is installed as /usr/local/bin/projd.
ARG WORKER_TARGET=projd
# The SDK (component dev of cmake/ProjdInstall.cmake) goes to /usr/local, where
# find_package(projd) finds it; any worker target builds every library it installs.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DPROJD_REVISION=${REVISION} \
 && cmake --build /build --target "${WORKER_TARGET}" \
 && cmake --install /build --component dev --prefix /usr/local --strip \
 && strip --strip-debug -o /projd "$(find /build -type f -name "${WORKER_TARGET}" -perm -u+x | head -n 1)"

FROM debian:bookworm-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# The shared libraries of `projd` (tests/deploy checks this list against the binary's
# NEEDED entries); ca-certificates for sslmode=verify-full.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpqxx-6.4 libpq5 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /projd /usr/local/bin/projd
# A fixed numeric user, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
ENV HTTP_ADDR=0.0.0.0:9090 \
    LOG_FORMAT=json
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["projd", "healthcheck"]
ENTRYPOINT ["projd"]
CMD ["run"]
