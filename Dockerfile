# syntax=docker/dockerfile:1.7
# One image build for the apps: `--target receiver`, `--target worker` or `--target dashboard`.
# Builds the pnpm workspace once, then `pnpm deploy`s each app with its production dependencies only.

ARG NODE_VERSION=22.21.1

FROM node:${NODE_VERSION}-bookworm-slim AS base
# Keep in step with package.json's packageManager.
RUN npm install --global --no-fund --no-audit pnpm@10.34.9
WORKDIR /repo

FROM base AS build
# Dependencies first (cached until the lockfile changes), then the sources.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
# The last step drops the TypeScript compiler from the dashboard: bull-board's valibot names it as
# an optional peer (for its types only) and pnpm resolves it from the workspace; the deployed
# dashboard was tried without it and serves its UI and API.
RUN pnpm install --offline --frozen-lockfile \
 && pnpm --recursive run build \
 && pnpm deploy --legacy --prod --filter @flexprice/receiver /out/receiver \
 && pnpm deploy --legacy --prod --filter @flexprice/worker /out/worker \
 && pnpm deploy --legacy --prod --filter @flexprice/dashboard /out/dashboard \
 && rm -rf /out/dashboard/node_modules/.pnpm/typescript@* /out/dashboard/node_modules/.pnpm/node_modules/typescript

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM to node (graceful shutdown) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
ENTRYPOINT ["/usr/bin/tini", "--"]

FROM runtime AS receiver
COPY --from=build --chown=node:node /out/receiver /app
USER node
# The webhook port only: RECEIVER_METRICS_PORT (9465) stays unexposed, so `docker run -P` never
# publishes the metrics.
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

FROM runtime AS worker
COPY --from=build --chown=node:node /out/worker /app
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WORKER_METRICS_PORT||9464)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

FROM runtime AS dashboard
COPY --from=build --chown=node:node /out/dashboard /app
USER node
EXPOSE 3001
CMD ["node", "dist/main.js"]
