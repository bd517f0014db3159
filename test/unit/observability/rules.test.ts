import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { dashboardQueries, OBSERVABILITY, prometheusBinaries, rulesFileText } from '../../support/prometheus';

/** The alert rules and the dashboard, checked with the real promtool. */
const { promtool } = prometheusBinaries();
const dir = mkdtempSync(join(tmpdir(), 'rules-'));
writeFileSync(join(dir, 'rules.yaml'), rulesFileText());
copyFileSync(join(__dirname, 'alerts.promtool.yaml'), join(dir, 'alerts.test.yaml'));

const run = (args: string[]): string =>
  execFileSync(promtool, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('promtool check rules accepts the PrometheusRule', () => {
  expect(run(['check', 'rules', 'rules.yaml'])).toMatch(/SUCCESS: 7 rules found/);
});

test('promtool test rules: every alert fires when it should and not before', () => {
  expect(run(['test', 'rules', 'alerts.test.yaml'])).toMatch(/SUCCESS/);
  const tested = new Set(
    (
      parse(readFileSync(join(dir, 'alerts.test.yaml'), 'utf8')) as {
        tests: { alert_rule_test: { alertname: string }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)),
  );
  const alerts = (parse(rulesFileText()) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap(
    (g) => g.rules.map((r) => r.alert),
  );
  expect([...tested].sort()).toEqual([...alerts].sort());
});

/** Metric names our processes export: declared in the source, plus the Temporal SDK's (temporal_*). */
function exportedNames(): Set<string> {
  const names = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.ts'))
        for (const m of readFileSync(join(d, e.name), 'utf8').matchAll(/name: '([a-z_]+)'/g))
          names.add(m[1]!);
    }
  };
  walk(join(__dirname, '..', '..', '..', 'src'));
  return names;
}

test('every metric the dashboard and the alerts query is one this system exports', () => {
  const exported = exportedNames();
  const exprs = [
    ...dashboardQueries().map((q) => q.expr),
    ...(parse(rulesFileText()) as { groups: { rules: { expr: string }[] }[] }).groups.flatMap((g) =>
      g.rules.map((r) => r.expr),
    ),
  ];
  const used = new Set(
    exprs.flatMap((e) => [...e.matchAll(/\b((?:inference|dependency|temporal)_[a-z_]+)/g)].map((m) => m[1]!)),
  );
  const unknown = [...used].filter((n) => {
    if (n.startsWith('temporal_')) return false; // the SDK's, checked by the scrape test
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return !exported.has(n) && !exported.has(base);
  });
  expect(unknown).toEqual([]);
});

test('the dashboard is a Grafana dashboard with a datasource variable and unique panel ids', () => {
  const d = JSON.parse(readFileSync(join(OBSERVABILITY, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: { id: number; targets: unknown[] }[];
    templating: { list: { name: string; type: string }[] };
  };
  expect(d.uid).toBe('durable-inference');
  expect(d.templating.list).toContainEqual(
    expect.objectContaining({ name: 'datasource', type: 'datasource' }),
  );
  expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
  expect(d.panels.every((p) => p.targets.length > 0)).toBe(true);
});
