/** A small SVG chart: accept latency (p50, p99) and achieved throughput against offered load. */
export function acceptChart(rows: { rate: number; p50: number; p99: number; achieved: number }[]): string {
  const W = 640;
  const H = 360;
  const m = { l: 60, r: 60, t: 30, b: 50 };
  const maxX = Math.max(...rows.map((r) => r.rate), 1);
  const maxY = Math.max(...rows.map((r) => r.p99), 1);
  const maxT = Math.max(...rows.map((r) => Math.max(r.achieved, r.rate)), 1);
  const x = (v: number): number => m.l + (v / maxX) * (W - m.l - m.r);
  const y = (v: number): number => H - m.b - (v / maxY) * (H - m.t - m.b);
  const yt = (v: number): number => H - m.b - (v / maxT) * (H - m.t - m.b);
  const line = (pts: [number, number][], color: string, dash = ''): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''} points="${pts
      .map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`)
      .join(' ')}"/>`;
  const label = (tx: number, ty: number, s: string, anchor = 'middle'): string =>
    `<text x="${tx}" y="${ty}" font-size="12" text-anchor="${anchor}" font-family="sans-serif">${s}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${W - m.r}" y1="${m.t}" x2="${W - m.r}" y2="${H - m.b}" stroke="gray"/>`,
    line(
      rows.map((r) => [x(r.rate), y(r.p50)]),
      '#1f77b4',
    ),
    line(
      rows.map((r) => [x(r.rate), y(r.p99)]),
      '#d62728',
    ),
    line(
      rows.map((r) => [x(r.rate), yt(r.achieved)]),
      '#2ca02c',
      '6 4',
    ),
    ...rows.map((r) => label(x(r.rate), H - m.b + 16, String(r.rate))),
    label(W / 2, H - 12, 'offered load (requests/s, open loop)'),
    label(m.l - 8, m.t - 10, `accept latency, ms (max ${maxY.toFixed(0)})`, 'start'),
    label(W - m.r + 8, m.t - 10, `completed/s (max ${maxT.toFixed(0)})`, 'end'),
    label(m.l + 10, m.t + 14, 'p50 (blue), p99 (red), achieved accepts/s (green, dashed)', 'start'),
    '</svg>',
  ].join('\n');
}
