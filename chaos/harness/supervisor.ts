import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './http';

/** One process the supervisor keeps running. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** True once the process serves (HTTP probe, PING, ...). */
  ready: () => Promise<boolean>;
  /** Signal of a graceful stop. @default SIGTERM */
  stopSignal?: NodeJS.Signals;
  /** Longest wait for readiness after a (re)start. @default 90000 */
  readyTimeoutMs?: number;
}

/** An exit the supervisor saw. `expected` is false when nothing it did caused it. */
export interface ExitRecord {
  name: string;
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
  /** Last lines of its output, for an unexpected exit. */
  tail?: string;
}

interface Managed {
  spec: ServiceSpec;
  proc?: ChildProcess;
  expectExit: boolean;
  starts: number;
  tail: string;
  /** Consecutive unexpected exits, for the restart backoff. */
  crashes: number;
}

/**
 * Runs processes as Kubernetes would: whatever exits is started again (after a short backoff that
 * grows while it keeps crashing). Exits caused by {@link Supervisor.kill} are expected; any other is
 * recorded as unexpected, which the chaos run counts as a failure.
 */
export class Supervisor {
  readonly exits: ExitRecord[] = [];
  private readonly managed = new Map<string, Managed>();
  private stopping = false;

  constructor(
    private readonly logDir: string,
    private readonly say: (line: string) => void = () => undefined,
  ) {}

  /** Starts a process and resolves once it is ready. */
  async add(spec: ServiceSpec): Promise<void> {
    const m: Managed = { spec, expectExit: false, starts: 0, tail: '', crashes: 0 };
    this.managed.set(spec.name, m);
    this.launch(m);
    await this.waitReady(spec.name);
  }

  private launch(m: Managed): void {
    const { spec } = m;
    const log = createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: 'a' });
    const proc = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(spec.uid !== undefined ? { uid: spec.uid, gid: spec.gid } : {}),
    });
    m.proc = proc;
    m.starts++;
    const keep = (d: Buffer): void => {
      m.tail = (m.tail + d.toString()).slice(-3000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    proc.on('error', (err) => this.say(`${spec.name}: spawn error ${err.message}`));
    proc.once('exit', (code, signal) => {
      const expected = m.expectExit || this.stopping;
      m.expectExit = false;
      this.exits.push({
        name: spec.name,
        at: Date.now(),
        code,
        signal,
        expected,
        ...(expected ? {} : { tail: m.tail }),
      });
      if (!expected) this.say(`UNEXPECTED exit of ${spec.name} (code ${code}, signal ${signal})`);
      if (this.stopping) return;
      m.crashes = expected ? 0 : m.crashes + 1;
      const backoff = expected ? 200 : Math.min(10_000, 500 * 2 ** Math.min(m.crashes, 5));
      setTimeout(() => {
        if (!this.stopping) this.launch(m);
      }, backoff);
    });
  }

  private get(name: string): Managed {
    const m = this.managed.get(name);
    if (!m) throw new Error(`no process named ${name}`);
    return m;
  }

  /** Resolves once `name` answers its readiness probe; throws after its timeout. */
  async waitReady(name: string, timeoutMs?: number): Promise<void> {
    const m = this.get(name);
    const deadline = Date.now() + (timeoutMs ?? m.spec.readyTimeoutMs ?? 90_000);
    while (Date.now() < deadline) {
      if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null && (await m.spec.ready())) return;
      await sleep(100);
    }
    throw new Error(`${name} not ready in time; last output:\n${m.tail}`);
  }

  /** Kills `name` with `signal` (an expected exit) and resolves once it has exited; it is restarted. */
  async kill(name: string, signal: NodeJS.Signals): Promise<void> {
    const m = this.get(name);
    const proc = m.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    m.expectExit = true;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }

  /** Process ids of `name`'s current process. */
  pid(name: string): number | undefined {
    return this.get(name).proc?.pid;
  }

  starts(name: string): number {
    return this.get(name).starts;
  }

  names(): string[] {
    return [...this.managed.keys()];
  }

  unexpected(): ExitRecord[] {
    return this.exits.filter((e) => !e.expected);
  }

  /** Stops everything, last added first, gracefully then with SIGKILL after 10 s. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const m of [...this.managed.values()].reverse()) {
      const proc = m.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) continue;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(m.spec.stopSignal ?? 'SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
}
