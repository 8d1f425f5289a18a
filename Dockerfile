# skybridge runs its TypeScript sources through tsx; the image carries runtime dependencies only.
FROM node:20-bookworm-slim
WORKDIR /opt/skybridge
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
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
ENTRYPOINT ["node", "bin/skybridge.mjs"]
CMD ["--config", "/etc/skybridge/pipelines.yaml"]
