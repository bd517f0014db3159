import { createServer } from 'node:net';
import { freePorts, pickRange } from '../../dev/stack/free-port';

test('ports are picked below the ephemeral range outgoing connections take their ports from', () => {
  expect(pickRange([32768, 60999])).toEqual([10000, 32767]);
  // A range that starts low leaves room above it only.
  expect(pickRange([10500, 60000])).toEqual([60001, 65535]);
  expect(pickRange([1024, 65535])).toEqual([10000, 65535]);
});

test('freePorts hands out distinct, bindable ports outside the ephemeral range, never the same twice', async () => {
  const ports = await freePorts(20);
  const again = await freePorts(20);
  const all = [...ports, ...again];
  expect(new Set(all).size).toBe(40);
  const [from, to] = pickRange();
  for (const p of all) {
    expect(p).toBeGreaterThanOrEqual(from);
    expect(p).toBeLessThanOrEqual(to);
  }
  // Each one can really be listened on.
  for (const p of ports.slice(0, 3)) {
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(p, '0.0.0.0', () => s.close(() => resolve()));
    });
  }
});
