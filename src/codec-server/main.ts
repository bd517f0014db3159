import { payloadCodec } from '../codec/data-converter';
import { ConfigError, loadConfig } from '../config/load-config';
import { createLogger } from '../observability/logger';
import { onShutdown } from '../runtime/resources';
import { createCodecApp } from './create-codec-app';

/**
 * Serves the payload codec on CODEC_SERVER_PORT for the Temporal Web UI and CLI, so people with the
 * token can read encrypted prompts and outputs in workflow history (docs/operations.md).
 */
function main(): void {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'codec-server', level: cfg.LOG_LEVEL });
  // The schema fills in the development token; elsewhere it must be set.
  const token = cfg.CODEC_SERVER_TOKEN;
  if (!token) {
    throw new ConfigError([
      {
        variable: 'CODEC_SERVER_TOKEN',
        message: `is required when APP_ENV=${cfg.APP_ENV}: the codec server decrypts prompts and outputs (openssl rand -hex 32)`,
      },
    ]);
  }
  const app = createCodecApp({
    codec: payloadCodec(cfg),
    token,
    corsOrigins: cfg.CODEC_CORS_ORIGINS,
    namespace: cfg.TEMPORAL_NAMESPACE,
    onRefused: (req) =>
      logger.warn(
        {
          method: req.method,
          path: req.path,
          remote: req.socket.remoteAddress,
          origin: req.get('origin'),
          token_given: !!req.get('authorization'),
        },
        'codec request refused: no or a wrong token',
      ),
  });
  const server = app.listen(cfg.CODEC_SERVER_PORT, cfg.CODEC_SERVER_HOST, () =>
    logger.info(
      { host: cfg.CODEC_SERVER_HOST, port: cfg.CODEC_SERVER_PORT, corsOrigins: cfg.CODEC_CORS_ORIGINS },
      'codec server listening',
    ),
  );
  onShutdown(
    logger,
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
