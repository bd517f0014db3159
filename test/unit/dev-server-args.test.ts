import { DEV_SQLITE_PRAGMAS, devServerArgs } from '../../dev/stack/temporal-dev-server';

const pragmas = (args: string[]): string[] =>
  args.flatMap((a, i) => (args[i - 1] === '--sqlite-pragma' ? [a] : []));

test('the file-backed dev server (npm start) runs SQLite in WAL mode with synchronous=normal', () => {
  const args = devServerArgs({ port: 7233, dataDir: '/data' });
  expect(args).toEqual(expect.arrayContaining(['--db-filename', '/data/temporal.sqlite']));
  expect(pragmas(args)).toEqual(['journal_mode=wal', 'synchronous=normal']);
  expect(DEV_SQLITE_PRAGMAS).toEqual(['journal_mode=wal', 'synchronous=normal']);
});

test('pragmas can be overridden (full durability: none), and an in-memory server takes none', () => {
  expect(pragmas(devServerArgs({ port: 7233, dataDir: '/data', sqlitePragmas: [] }))).toEqual([]);
  expect(pragmas(devServerArgs({ port: 7233 }))).toEqual([]);
});

test('task queues get one write partition (no forwarding hop on one process), reads stay at the default', () => {
  const args = devServerArgs({ port: 7233, dataDir: '/data' });
  const dyn = args.flatMap((a, i) => (args[i - 1] === '--dynamic-config-value' ? [a] : []));
  expect(dyn).toContain('matching.numTaskqueueWritePartitions=1');
  // Fewer read partitions than were ever written would strand tasks left in the others.
  expect(dyn.some((kv) => kv.startsWith('matching.numTaskqueueReadPartitions'))).toBe(false);
});

test('the Web UI of the file-backed server decodes payloads with the codec server; headless has no UI', () => {
  const args = devServerArgs({ port: 7233, dataDir: '/data', codecEndpoint: 'http://127.0.0.1:8234' });
  expect(args[args.indexOf('--ui-codec-endpoint') + 1]).toBe('http://127.0.0.1:8234');
  expect(devServerArgs({ port: 7233, codecEndpoint: 'http://127.0.0.1:8234' })).not.toContain(
    '--ui-codec-endpoint',
  );
  expect(devServerArgs({ port: 7233, dataDir: '/data' })).not.toContain('--ui-codec-endpoint');
});

test("the server's own metrics go to the port asked for; unasked, the CLI picks one", () => {
  const args = devServerArgs({ port: 7233, dataDir: '/data', metricsPort: 9468 });
  expect(args[args.indexOf('--metrics-port') + 1]).toBe('9468');
  expect(devServerArgs({ port: 7233, metricsPort: 40001 })).toEqual(
    expect.arrayContaining(['--metrics-port', '40001']),
  );
  expect(devServerArgs({ port: 7233, dataDir: '/data' })).not.toContain('--metrics-port');
});

test('the dev server binds its frontend and Web UI to loopback unless given a host', () => {
  const flag = (args: string[], name: string): string | undefined => args[args.indexOf(name) + 1];
  const file = devServerArgs({ port: 7233, dataDir: '/data' });
  expect([flag(file, '--ip'), flag(file, '--ui-ip')]).toEqual(['127.0.0.1', '127.0.0.1']);
  const open = devServerArgs({ port: 7233, dataDir: '/data', host: '0.0.0.0' });
  expect([flag(open, '--ip'), flag(open, '--ui-ip')]).toEqual(['0.0.0.0', '0.0.0.0']);
  // Headless (tests): no Web UI, so no --ui-ip.
  expect(devServerArgs({ port: 7233 })).not.toContain('--ui-ip');
});
