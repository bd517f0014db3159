import { printResult } from '../../chaos/chaos';
import { ALL_FAULTS, defaultChaosOptions } from '../../chaos/harness/options';
import { runChaos, type ChaosResult } from '../../chaos/harness/run-chaos';
import { temporalBinaries } from '../support/toolchain';

/**
 * The CI variant of `npm run chaos`: the same code on a short schedule (every fault once, the
 * overlapping ones included, about two minutes of load) against a PRIVATE stack. The run's own checks are the assertions; no timings are.
 */
let result: ChaosResult | undefined;

afterAll(() => {
  if (result) printResult(result);
});

test('under every fault nothing is lost, duplicated or mis-charged, and every process recovers', async () => {
  result = await runChaos(
    defaultChaosOptions({
      durationS: 125,
      warmupS: 5,
      faultIntervalS: 8,
      concurrency: 4,
      maxInFlight: 3,
      drainS: 90,
      temporalCli: temporalBinaries().cli,
      say: (line) => process.stdout.write(`${line}\n`),
    }),
  );
  expect(result.checks.filter((c) => !c.ok)).toEqual([]);
  expect([...new Set(result.faults.map((f) => f.kind))].sort()).toEqual([...ALL_FAULTS].sort());
}, 480_000);
