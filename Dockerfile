# One image for every process; the command picks which (the entry point is `node`, and each process
# is the JavaScript `npm run build` compiled, as `npm start` runs it):
#   dist/src/api/main.js (default)            REST API, :8080
#   dist/workers/orchestration-worker.js      workflows + quota bookkeeping, metrics :9464
#   dist/workers/gpu-worker.js                model calls on the GPU task queues, metrics :9465
#   dist/src/db/migrate-cli.js                one-shot: create the database, migrate (seeds tenant
#                                             `demo` only when APP_ENV=development)
# The image holds the product only, no dev tool: dev/ (the reference model service, the local stack)
# stays out of its build context, and dev/Dockerfile builds the reference model service's own image.
# No HEALTHCHECK here: each process answers on its own port; docker-compose.yml and the manifests
# probe each one.

# `npm ci` is the goal in both install stages. It refuses a lock file that lacks other platforms'
# optional packages of the dev tools (the registry mirror this project is developed against serves
# none, see README.md), even with --omit=dev; then `npm install` installs the same locked versions.

# Compiles dist/ (tsc, the Lua scripts and SQL migrations beside it) and bundles the workflow code,
# with every dependency, dev tools included: none of this stage but those two outputs reaches the image.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund \
  || { echo 'npm ci refused package-lock.json; installing the locked versions with npm install'; \
       npm install --no-audit --no-fund; }
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY scripts/bundle-workflows.ts ./scripts/
RUN npm run build
# The workflow code bundled once here: the orchestration worker then never loads webpack.
RUN node --import tsx scripts/bundle-workflows.ts /app/workflow-bundle.js

# Production dependencies only: the image's node_modules.
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
  || { echo 'npm ci refused package-lock.json; installing the locked versions with npm install'; \
       npm install --omit=dev --no-audit --no-fund; }

FROM node:20-slim
ENV NODE_ENV=production
# Memory settings of every process (src/runtime/memory-settings.ts says why, with figures).
ENV NODE_OPTIONS=--max-semi-space-size=2 MALLOC_ARENA_MAX=2
WORKDIR /app
# Everything stays owned by root: the process (user node) can read its code but not change it.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY --from=build /app/workflow-bundle.js ./
ENV WORKFLOW_BUNDLE_PATH=/app/workflow-bundle.js
# The image's `node` user (uid 1000).
USER 1000:1000
EXPOSE 8080 9464 9465
ENTRYPOINT ["node"]
CMD ["dist/src/api/main.js"]
