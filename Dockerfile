# syntax=docker/dockerfile:1
# The gateway's images, from one file (docker compose builds two of its targets):
#   dev     serverless offline with the dev tooling: compose's api service
#   worker  the production worker (default target): the esbuild bundle on a slim Node.js 22,
#           with no node_modules at all; ECS Fargate runs it, compose's worker service too.
# Node.js 22 everywhere, as Lambda's nodejs22.x runtime.

# Every dependency, dev ones included: the emulator and the bundler need them.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM deps AS dev
COPY . .
ENV NODE_ENV=development
EXPOSE 3000
CMD ["npm", "run", "offline"]

# Only what the bundle is built from, so a README or test change does not rebuild it.
FROM deps AS build
COPY tsconfig.json esbuild.config.ts serverless.yml ./
COPY lib/ lib/
RUN npm run build

FROM node:22-bookworm-slim AS worker
# tini as PID 1 passes SIGTERM on to node (the worker drains on it) and reaps zombies.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.* \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# Amazon's RDS CA bundle, which signs DocumentDB's certificates: Node.js trusts it on top of its
# own roots, so a DocumentDB MONGO_URL needs only tls=true (no tlsCAFile) and Atlas is unchanged.
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/rds-global-bundle.pem
# The bundle carries its dependencies. The source map ships beside it but stays off until
# NODE_OPTIONS=--enable-source-maps asks for it (it costs memory and stack-trace time).
COPY --from=build /app/dist/worker.js /app/dist/worker.js.map ./dist/
# Files stay root-owned: the worker's user can read its code, not change it. 1000 is the base
# image's `node` user, by number so a runtime can tell it is not root without reading /etc/passwd.
USER 1000:1000
# Prometheus /metrics and /health (METRICS_PORT).
EXPOSE 9464
# 200 only while the worker takes jobs; 503 while it starts, drains or has lost Redis.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/worker.js"]
