import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process CPU in clock ticks of 1/100 s (USER_HZ is 100 on every architecture Node runs on). */
const TICK_MS = 10;

/** User plus system CPU a live process has used, in ms; 0 once it is gone. */
export function processCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is the 3rd, utime the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Every live process whose command is `comm` (Postgres runs a process per connection). */
function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy and total CPU time of the whole machine so far, in ticks (from the first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user and nice)
  const n = values.slice(0, 8).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: total - n[3]! - n[4]!, total };
}

export interface CpuUse {
  /** CPU ms each named process (or group) used during the window. */
  ms: Record<string, number>;
  /** Share of the whole machine's CPU that was busy during the window, in %. */
  machineBusyPct: number;
}

export interface CpuWindow {
  stop(): CpuUse;
}

/** Services measured by command name: every Postgres process (one per connection) and Redis. */
const SERVICES = { postgres: 'postgres', redis: 'redis-server' } as const;

/**
 * Measures CPU from now until `stop()`: for each named pid, for Postgres and Redis (all their
 * processes; a Postgres backend that exits inside the window loses its share), and for this
 * process (the load generator and the receiver). /proc is read twice, never sampled: the
 * measurement costs nothing during the window.
 */
export function startCpuWindow(pids: Record<string, number | undefined>): CpuWindow {
  const serviceAt = (comm: string) => new Map(pidsNamed(comm).map((pid) => [pid, processCpuMs(pid)]));
  const start = {
    named: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)])),
    services: Object.fromEntries(Object.entries(SERVICES).map(([name, comm]) => [name, serviceAt(comm)])),
    bench: process.cpuUsage(),
    machine: machineTicks(),
  };
  return {
    stop() {
      const ms: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) ms[name] = processCpuMs(pid) - start.named[name]!;
      for (const [name, comm] of Object.entries(SERVICES)) {
        let used = 0;
        for (const [pid, now] of serviceAt(comm)) used += now - (start.services[name]!.get(pid) ?? 0);
        ms[name] = used;
      }
      const bench = process.cpuUsage(start.bench);
      ms.bench = Math.round((bench.user + bench.system) / 1000);
      const machine = machineTicks();
      const total = machine.total - start.machine.total;
      return { ms, machineBusyPct: total > 0 ? Math.round((100 * (machine.busy - start.machine.busy)) / total) : 0 };
    },
  };
}

/** CPU ms per unit of work (event or delivery), per process, to two decimals. */
export function perUnit(use: CpuUse, units: number): Record<string, number> {
  return Object.fromEntries(Object.entries(use.ms).map(([name, ms]) => [name, units > 0 ? Math.round((100 * ms) / units) / 100 : 0]));
}
