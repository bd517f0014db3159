import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux). */
const TICKS = 100;

/** The environment of process `pid` (one's own processes only), empty when unreadable. */
export function environOf(pid: number): Record<string, string> {
  try {
    return Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

/** Pids whose command line matches `pattern`. */
export function pidsMatching(pattern: RegExp): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (pattern.test(cmd)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * CPU time (user + system) so far of the process or thread whose stat file is `path`
 * (`/proc/<pid>/stat`, `/proc/<pid>/task/<tid>/stat`), ms; throws when it is gone.
 */
export function statCpuMs(path: string): number {
  // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
}

/** CPU time (user + system) the processes used so far, ms; processes that are gone count 0. */
export function cpuMs(pids: number[]): number {
  let ms = 0;
  for (const pid of pids) {
    try {
      ms += statCpuMs(`/proc/${pid}/stat`);
    } catch {
      // gone
    }
  }
  return ms;
}

/** Resident memory of the processes, MiB. */
export function rssMiB(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}
