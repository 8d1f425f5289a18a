# skybridge's image: the compiled JavaScript (dist/) and production dependencies only, on the current
# Node.js LTS, running as a user without privileges. No tests, bench, TypeScript sources or tsx.
ARG NODE_VERSION=26

# 1. Build: the full dependency set (TypeScript) compiles the sources into dist/.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; the build runs below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json components.ts ./
COPY scripts/build.mjs scripts/
COPY bin bin/
COPY core core/
COPY receivers receivers/
COPY processors processors/
COPY exporters exporters/
RUN node scripts/build.mjs

# 2. Run: production dependencies and the build.
FROM node:${NODE_VERSION}-slim
WORKDIR /opt/skybridge
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist dist/
# OTLP gRPC/HTTP, Zipkin, Jaeger UDP/HTTP/gRPC, self-telemetry
EXPOSE 4317 4318 9411 6831/udp 6832/udp 14268 14250 8888
# The embedded default, for `docker run` without a mounted config. Its ports default to localhost,
# which inside a container is reachable from nowhere else: the image listens on every interface and
# leaves it to the port publishing to decide who can reach it (docker-compose.yaml: the host's loopback).
COPY pipelines.yaml /etc/skybridge/pipelines.yaml
ENV OTLP_GRPC_ENDPOINT=0.0.0.0:4317 OTLP_HTTP_ENDPOINT=0.0.0.0:4318 ZIPKIN_ENDPOINT=0.0.0.0:9411 \
    JAEGER_COMPACT_ENDPOINT=0.0.0.0:6831 JAEGER_BINARY_ENDPOINT=0.0.0.0:6832 \
    JAEGER_HTTP_ENDPOINT=0.0.0.0:14268 JAEGER_GRPC_ENDPOINT=0.0.0.0:14250 \
    SKYBRIDGE_TELEMETRY_ENDPOINT=0.0.0.0:8888
# Not root: skybridge needs no privileges (its ports are above 1024).
USER node
ENTRYPOINT ["node", "dist/bin/skybridge.js"]
CMD ["--config", "/etc/skybridge/pipelines.yaml"]
