# One image for every process; the command picks which (the entry point is `node --import tsx`):
#   src/api/main.ts (default)            REST API, :8080
#   workers/orchestration-worker.ts      workflows + quota bookkeeping, metrics :9464
#   workers/gpu-worker.ts                model calls on the GPU task queues, metrics :9465
#   src/db/migrate-cli.ts                one-shot: create the database, migrate (seeds tenant `demo` only
#                                        when APP_ENV=development)
#   src/model-service/main.ts            reference model service, :8090 (local/dev only)
# No HEALTHCHECK here: each process answers on its own port; docker-compose.yml and the manifests
# probe each one.

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; tsx is one of them, since the processes run TypeScript directly.
# `npm ci` is the goal. It refuses a lock file that lacks other platforms' optional packages of the
# dev tools (the registry mirror this project is developed against serves none, see README.md),
# even with --omit=dev; then `npm install` installs the same locked versions.
RUN npm ci --omit=dev --no-audit --no-fund \
  || { echo 'npm ci refused package-lock.json; installing the locked versions with npm install'; \
       npm install --omit=dev --no-audit --no-fund; }

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Everything stays owned by root: the process (user node) can read its code but not change it.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY scripts/bundle-workflows.ts ./scripts/
# The workflow code bundled once here: the orchestration worker then never loads webpack.
RUN node --import tsx scripts/bundle-workflows.ts /app/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/workflow-bundle.js
# The image's `node` user (uid 1000). tsx keeps its transpile cache in $TMPDIR (/tmp), which must be
# writable: the manifests mount an emptyDir there because they make the root filesystem read-only.
USER 1000:1000
EXPOSE 8080 8090 9464 9465
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["src/api/main.ts"]
