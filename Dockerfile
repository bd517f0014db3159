# One image for every process; the command picks it (src/api/main.ts, workers/…, src/db/migrate-cli.ts).
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
USER node
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["src/api/main.ts"]
