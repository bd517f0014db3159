import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '../../dev/stack/free-port';

const ROOT = join(__dirname, '..', '..');
export const OBSERVABILITY = join(ROOT, 'manifests', 'observability');

/** PROMTOOL / PROMETHEUS from the environment, else from scripts/prometheus-toolchain.sh. */
export function prometheusBinaries(): { promtool: string; prometheus: string } {
  if (!process.env.PROMTOOL || !process.env.PROMETHEUS) {
    const out = execFileSync('bash', [join(ROOT, 'scripts', 'prometheus-toolchain.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    for (const m of out.matchAll(/^export (\w+)='([^']*)'$/gm)) process.env[m[1]!] = m[2]!;
  }
  return { promtool: process.env.PROMTOOL!, prometheus: process.env.PROMETHEUS! };
}

/** The `spec.groups` of the PrometheusRule: a plain Prometheus rules file. */
export function rulesFileText(): string {
  const rule = parse(readFileSync(join(OBSERVABILITY, 'prometheus-rules.yaml'), 'utf8')) as {
    spec: { groups: unknown[] };
  };
  return stringify({ groups: rule.spec.groups });
}

/** Every PromQL expression of the Grafana dashboard, with its panel title. */
export function dashboardQueries(): { title: string; expr: string }[] {
  const d = JSON.parse(readFileSync(join(OBSERVABILITY, 'grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  return d.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
}

/** A real Prometheus scraping `targets` (host:port) every second, with the project's rules loaded. */
export async function startPrometheus(targets: string[]): Promise<{
  url: string;
  query: (expr: string) => Promise<unknown[]>;
  stop: () => Promise<void>;
}> {
  const { prometheus } = prometheusBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'prom-'));
  writeFileSync(join(dir, 'rules.yaml'), rulesFileText());
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['rules.yaml'],
      scrape_configs: [{ job_name: 'durable-inference', static_configs: [{ targets }] }],
    }),
  );
  const port = await freePort();
  const proc: ChildProcess = spawn(
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited with ${proc.exitCode}`);
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 300) throw new Error('prometheus did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async query(expr: string): Promise<unknown[]> {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
      return body.data!.result;
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
