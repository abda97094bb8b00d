import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundle, ENTRIES } from '../../scripts/build.ts';

const repoFile = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const verbose = process.env.BENCH_VERBOSE === '1';

/** A memory figure of a live process from /proc (VmHWM: peak resident set, VmRSS: current), in MiB; 0 once it is gone. */
function statusMiB(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number {
  if (!pid) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

export const peakRssMiB = (pid: number | undefined): number => statusMiB(pid, 'VmHWM');
export const rssMiB = (pid: number | undefined): number => statusMiB(pid, 'VmRSS');

/** A child process of the bench: one of Hookrelay's apps or a baseline, with its peak RSS on hand. */
export class Child {
  private exited: Promise<void>;
  private lastPeak = 0;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => process.once('exit', () => resolve()));
    process.once('exit', (code, signal) => {
      if (code && code !== 0 && !this.stopping) console.error(`${name} exited with code ${code ?? signal}`);
    });
  }

  private stopping = false;

  /** Peak RSS so far, in MiB (remembered after the process has gone). */
  peakRss(): number {
    this.lastPeak = Math.max(this.lastPeak, peakRssMiB(this.process.pid));
    return this.lastPeak;
  }

  rss(): number {
    return rssMiB(this.process.pid);
  }

  /** Resolves with the first IPC message `match` accepts. */
  message<T>(match: (m: any) => m is T, timeoutMs = 600_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no message within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (m: unknown) => {
        if (!match(m)) return;
        cleanup();
        resolve(m);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`${this.name} exited (${code}) before it answered`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.process.off('message', onMessage);
        this.process.off('exit', onExit);
      };
      this.process.on('message', onMessage);
      this.process.once('exit', onExit);
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; records the peak RSS first. */
  async stop(graceMs = 15_000): Promise<void> {
    this.peakRss();
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.stopping = true;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Where every spawned process writes a CPU profile when it exits (node --cpu-prof); unset, none. */
const profileDir = process.env.BENCH_CPU_PROF_DIR;

/**
 * Every process the bench starts runs as a bundle (scripts/build.ts): Hookrelay's API and worker
 * as production runs them, and the baselines the same way, so no process pays for a TypeScript
 * loader. They are built into bench/dist, apart from the dist/ that `pnpm start` and the tests run.
 */
const BUNDLES = {
  api: ENTRIES.api,
  worker: ENTRIES.worker,
  'raw-http': 'bench/src/baselines/raw-http.ts',
  'naive-bullmq': 'bench/src/baselines/naive-bullmq.ts',
  'fastify-hello': 'bench/src/baselines/fastify-hello.ts',
  'naive-ingest': 'bench/src/baselines/naive-ingest.ts',
} as const;
const BUNDLES_DIR = repoFile('bench/dist');

export const buildBundles = (): Promise<void> => bundle(BUNDLES, BUNDLES_DIR);

/** Runs a bundle built by `buildBundles`, by its output name, as its own Node process. */
export function spawnEntry(name: string, bundled: keyof typeof BUNDLES, env: Record<string, string>, args: string[] = []): Child {
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profiling, `${BUNDLES_DIR}/${bundled}.js`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', verbose ? 'inherit' : 'ignore', 'inherit', 'ipc'],
  });
  return new Child(name, child);
}
