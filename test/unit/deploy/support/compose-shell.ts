/**
 * What a user puts in .env for docker compose (docs/deploy.md): random secrets, none a default. The
 * compose tests interpolate docker-compose.yml with it.
 */
export const COMPOSE_SHELL: Readonly<Record<string, string>> = {
  ADMIN_TOKEN: '5f0e6c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d',
  GRAFANA_ADMIN_PASSWORD: '3c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f',
  PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
  CODEC_SERVER_TOKEN: '8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b',
  POSTGRES_PASSWORD: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978',
  REDIS_PASSWORD: '9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f3021',
};
