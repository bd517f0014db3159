import {
  createKeySchema,
  createTenantSchema,
  updateTenantSchema,
} from '../../../src/api/routes/admin-schemas';
import { listQuerySchema } from '../../../src/api/query-schemas';
import { STORABLE_TEXT } from '../../../src/db/storable-text';
import { batchItemSchema, batchListQuerySchema } from '../../../src/batches/batch-schemas';

/** Found by test/integration/hostile-input.test.ts: a NUL in these fields was a PostgreSQL error (500). */
test('text that PostgreSQL cannot store as given is refused by the schemas', () => {
  for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', 'x\ud83d']) {
    expect(STORABLE_TEXT.test(bad)).toBe(false);
    expect(createTenantSchema.safeParse({ id: 'acme', name: bad }).success).toBe(false);
    expect(createTenantSchema.safeParse({ id: 'acme', name: 'n', tier: bad }).success).toBe(false);
    expect(updateTenantSchema.safeParse({ name: bad }).success).toBe(false);
    expect(createKeySchema.safeParse({ label: bad }).success).toBe(false);
    expect(listQuerySchema.safeParse({ model: bad }).success).toBe(false);
    expect(batchListQuerySchema.safeParse({ after: bad }).success).toBe(false);
    const item = { custom_id: bad, body: { model: 'm', prompt: 'p' } };
    expect(batchItemSchema.safeParse(item).success).toBe(false);
  }
  for (const good of ['', 'plain', '👩‍👩‍👧‍👦', '\u202eRTL', 'e\u0301', "'; DROP TABLE x; --"]) {
    expect(STORABLE_TEXT.test(good)).toBe(true);
  }
  expect(createTenantSchema.safeParse({ id: 'acme', name: '👩‍👩‍👧‍👦 \u202e' }).success).toBe(true);
});
