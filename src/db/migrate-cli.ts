import { loadConfig } from '../config/load-config';
import { createLogger } from '../observability/logger';
import { seedDevTenant } from '../tenants/seed';
import { TenantsRepo } from '../tenants/tenants-repo';
import { ensureDatabase, migrate } from './migrate';
import { createPool } from './pool';

/**
 * `npm run migrate`: creates the database if needed, applies migrations, and in development seeds
 * tenant `demo` (never outside development).
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'migrate', level: cfg.LOG_LEVEL });
  if (await ensureDatabase(cfg.DATABASE_URL)) logger.info('database created');
  const pool = createPool({ connectionString: cfg.DATABASE_URL, max: 2, applicationName: 'migrate' });
  try {
    const applied = await migrate(pool);
    logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
    const seeded = await seedDevTenant(new TenantsRepo(pool), cfg);
    logger.info(
      { appEnv: cfg.APP_ENV },
      seeded ? 'tenant demo seeded' : 'no demo tenant outside development',
    );
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
