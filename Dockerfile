# syntax=docker/dockerfile:1
# telegram-ingress, built on the VPS by `docker compose up -d --build` (README.md, Deployment).
#
# Node 24 LTS: supported until 2028-04-30 (Node 22 ends 2027-04-30, Node 20 ended 2026-04-30).
# The code is tested on Node 20 too (package.json engines >=20). Debian 13 (trixie) slim: glibc,
# security support past Node 24's own end of life.
ARG NODE_IMAGE=node:24-trixie-slim

# Compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# The production dependencies alone, installed apart so no dev dependency can reach the image.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the service's user: the process cannot rewrite its own code.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The official image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
# Healthy = Telegram delivers to TELEGRAM_WEBHOOK_URL (or polling runs): the service's own probe,
# GET /telegram/webhook-info, called by node itself (no curl in the image).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "dist/admin-cli.js", "webhook-info"]
# docker stop sends SIGTERM; node gets it directly (no npm or shell in between) and drains
# (SHUTDOWN_TIMEOUT_MS, default 8 s, must stay below the stop timeout: compose sets 15 s).
# Compose adds an init process as PID 1 (init: true); with plain docker run, pass --init.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
