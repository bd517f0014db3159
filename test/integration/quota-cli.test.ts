import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PgQuotaStateSource } from '../../src/quota/quota-state-source';
import { QuotaStore } from '../../src/quota/quota-store';
import { RequestsRepo } from '../../src/requests/requests-repo';
import { startStack, type Stack } from '../support/stack';
import { prepared, submitServiceOn } from '../support/submit-service';

/**
 * `npm run quota -- sweep`, run as an operator runs it (a process of its own) against the real
 * stores: a reservation whose workflow never started is reclaimed and its row ended, which no later
 * sweep could do (the reservation is gone by then).
 */
let s: Stack;
beforeAll(async () => {
  // 20 ms per token: the running request below streams for 40 s, past the CLI's start on a loaded machine.
  s = await startStack({ modelService: { decodeMsPerToken: 20 } });
}, 120_000);
afterAll(async () => {
  await s?.stop();
});

const ROOT = join(__dirname, '..', '..');

async function quotaCli(args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/quota/quota-cli.ts'), ...args],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        APP_ENV: 'development',
        DATABASE_URL: s.cfg.DATABASE_URL,
        REDIS_URL: s.cfg.REDIS_URL,
        REDIS_KEY_PREFIX: s.cfg.REDIS_KEY_PREFIX,
        TEMPORAL_ADDRESS: s.cfg.TEMPORAL_ADDRESS,
        LOG_LEVEL: 'silent',
      },
    },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

test('sweep reclaims an abandoned reservation and ends its row; a running request keeps both', async () => {
  const submit = submitServiceOn(s);
  const input = await prepared(s, submit, 'api died before start');
  // Reserved longer ago than the reservation TTL (a store whose clock is that far back), by an API
  // that died before starting the workflow.
  const earlier = new QuotaStore({
    redis: s.redis,
    source: new PgQuotaStateSource(s.pool),
    prefix: s.cfg.REDIS_KEY_PREFIX,
    reservationTtlS: s.cfg.QUOTA_RESERVATION_TTL_S,
    recordRetentionS: s.cfg.QUOTA_RECORD_RETENTION_S,
    now: () => new Date(Date.now() - (s.cfg.QUOTA_RESERVATION_TTL_S + 60) * 1000),
  });
  await earlier.reserve(
    { requestId: input.requestId, tenantId: s.tenantId, acceptedAt: new Date(input.acceptedAt) },
    input.estimatedTokens,
  );
  await new RequestsRepo(s.pool, s.atRest).insertQueued(input);
  const running = await s.submit('still running when swept', 2000);

  expect(await quotaCli(['sweep', '--tenant', s.tenantId])).toEqual({ reclaimed: 1, rows_ended: 1 });
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBe('expired');
  const { rows } = await s.pool.query<{ status: string; error_message: string }>(
    'SELECT status, error_message FROM requests WHERE id = $1',
    [input.requestId],
  );
  expect(rows[0]).toEqual({ status: 'failed', error_message: 'its workflow never started' });
  expect(await s.quota.reservationState(s.tenantId, running)).toBe('reserved');
  expect((await s.call('GET', `/v1/inference/${running}`)).body.status).toMatch(/^(queued|running)$/);
  await s.call('POST', `/v1/inference/${running}/cancel`);
  expect((await s.waitFinished(running)).status).toBe('cancelled');
}, 60_000);
