/** One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF; quotes doubled. */
export function csvField(v: string | number | boolean | null | undefined): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A CSV document (RFC 4180: CRLF line ends) of `rows` under the header `columns`. */
export function toCsv(
  columns: readonly string[],
  rows: readonly Record<string, string | number | undefined>[],
): string {
  const line = (vals: (string | number | undefined)[]): string => `${vals.map(csvField).join(',')}\r\n`;
  return line([...columns]) + rows.map((r) => line(columns.map((c) => r[c]))).join('');
}
