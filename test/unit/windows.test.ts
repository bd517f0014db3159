import { bucketStart, bucketsFor } from '../../src/quota/windows';

test('buckets are UTC minute, day and month containing the instant', () => {
  const b = bucketsFor(new Date('2026-11-22T23:59:30.500Z'));
  expect(b.minute.id).toBe('m202611222359');
  expect(b.day.id).toBe('d20261122');
  expect(b.month.id).toBe('M202611');
  expect(b.minute.resetsAt.toISOString()).toBe('2026-11-23T00:00:00.000Z');
  expect(b.day.resetsAt.toISOString()).toBe('2026-11-23T00:00:00.000Z');
  expect(b.month.resetsAt.toISOString()).toBe('2026-12-01T00:00:00.000Z');
});

test('month end and year end roll over', () => {
  const b = bucketsFor(new Date('2026-12-31T23:59:59.999Z'));
  expect(b.month.id).toBe('M202612');
  expect(b.month.resetsAt.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  expect(bucketStart(b.month).toISOString()).toBe('2026-12-01T00:00:00.000Z');
  expect(bucketStart(b.day).toISOString()).toBe('2026-12-31T00:00:00.000Z');
  expect(bucketStart(b.minute).toISOString()).toBe('2026-12-31T23:59:00.000Z');
});
