// Fails fast, with the fix, when the PostgreSQL or Redis the tests need does not answer.
import { postgresAdvice, postgresAnswers, redisAnswers } from '../dev/stack/local-services';

async function main(): Promise<void> {
  const pg = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redis = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const problems: string[] = [];
  if (!(await postgresAnswers(pg))) problems.push(postgresAdvice(pg));
  if (!(await redisAnswers(redis))) {
    problems.push(
      `Redis does not answer at ${redis}. Start one: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`,
    );
  }
  if (problems.length) {
    console.error(problems.join('\n\n'));
    process.exit(1);
  }
  console.log(`services: PostgreSQL ${new URL(pg).host}, Redis ${new URL(redis).host}`);
}

void main();
