# skybridge runs its TypeScript sources through tsx; the image carries runtime dependencies only.
FROM node:20-bookworm-slim
WORKDIR /opt/skybridge
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# OTLP gRPC/HTTP, Zipkin, Jaeger UDP/HTTP/gRPC, self-telemetry
EXPOSE 4317 4318 9411 6831/udp 6832/udp 14268 14250 8888
ENTRYPOINT ["node", "bin/skybridge.mjs"]
CMD ["--config", "/etc/skybridge/pipelines.yaml"]
