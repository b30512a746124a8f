/**
 * Reads what scripts/bench/tail-probe.ts recorded in the emulator and what `npm run bench:tail`
 * sampled from /proc, and puts one burst's worth of it in a table.
 */
import { existsSync, readFileSync } from 'node:fs';
import { quantile } from '../load-test/open-loop';

export const PROCESSES = ['emulator', 'worker', 'redis', 'ferretdb', 'loadgen'] as const;
export type ProcessName = (typeof PROCESSES)[number];

/** CPU milliseconds used so far by each process tree, read at `at` (epoch ms). */
export interface CpuSample {
  at: number;
  ms: Record<ProcessName, number>;
}

interface LoopRecord {
  t: 'loop';
  at: number;
  maxMs: number;
  meanMs: number;
}
interface GcRecord {
  t: 'gc';
  at: number;
  ms: number;
}
interface LoadRecord {
  t: 'load';
  at: number;
  ms: number;
  file: string;
}
/** A TCP connection the emulator's HTTP server accepted, by the client's port. */
interface ConnectionRecord {
  t: 'conn';
  at: number;
  port: number;
}
interface RequestRecord {
  t: 'req';
  /** When the server's parser had the request; `arrived` is when the emulator took it up. */
  parsed?: number;
  arrived: number;
  port?: number;
  enter?: number;
  returned?: number;
  settled?: number;
  finished: number;
  inFlight?: number;
}
type ProbeRecord = LoopRecord | GcRecord | LoadRecord | ConnectionRecord | RequestRecord;

export interface Probe {
  loop: LoopRecord[];
  gc: GcRecord[];
  load: LoadRecord[];
  conn: ConnectionRecord[];
  req: RequestRecord[];
}

export function readProbe(file: string): Probe {
  const probe: Probe = { loop: [], gc: [], load: [], conn: [], req: [] };
  if (!existsSync(file)) return probe;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const record = JSON.parse(line) as ProbeRecord;
    // Other records (the CPU profile's clock) are read where they are used.
    (probe[record.t] as ProbeRecord[] | undefined)?.push(record);
  }
  return probe;
}

/** The records that fall in [from, to) (epoch ms); requests by their arrival. */
export function window(probe: Probe, from: number, to: number): Probe {
  const inside = (at: number) => at >= from && at < to;
  return {
    loop: probe.loop.filter((r) => inside(r.at)),
    gc: probe.gc.filter((r) => inside(r.at)),
    load: probe.load.filter((r) => inside(r.at)),
    conn: probe.conn.filter((r) => inside(r.at)),
    req: probe.req.filter((r) => inside(r.arrived)),
  };
}

const sorted = (values: number[]) => values.filter(Number.isFinite).sort((a, b) => a - b);
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const spread = (values: number[]) => {
  const s = sorted(values);
  return `${f1(quantile(s, 0.5))} / ${f1(quantile(s, 0.99))} / ${f1(s.at(-1) ?? Number.NaN)}`;
};

export const PROFILE_HEADER = [
  '| burst | loop delay max ms | 100-ms windows delayed > 50 ms | GC pauses: n / total ms / max ms | before the handler p50 / p99 / max ms | in the handler p50 / p99 / max ms | reply written after the handler p50 / p99 / max ms | handler calls in flight, peak (instances, all so far) | modules loaded: n / ms |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
].join('\n');

/** One row of the profile table: the emulator's side of a burst. */
export function profileRow(label: string, p: Probe, instancesSoFar: number): string {
  const requests = p.req.filter((r) => r.enter !== undefined && r.settled !== undefined);
  const gcMs = p.gc.reduce((sum, r) => sum + r.ms, 0);
  const peak = Math.max(0, ...requests.map((r) => r.inFlight ?? 0));
  return [
    label,
    f0(Math.max(0, ...p.loop.map((r) => r.maxMs))),
    String(p.loop.filter((r) => r.maxMs > 50).length),
    `${p.gc.length} / ${f1(gcMs)} / ${f1(Math.max(0, ...p.gc.map((r) => r.ms)))}`,
    spread(requests.map((r) => r.enter! - r.arrived)),
    spread(requests.map((r) => r.settled! - r.enter!)),
    spread(requests.map((r) => r.finished - r.settled!)),
    `${peak} (${instancesSoFar})`,
    `${p.load.length} / ${f0(p.load.reduce((sum, r) => sum + r.ms, 0))}`,
  ]
    .join(' | ')
    .replace(/^/, '| ')
    .concat(' |');
}

/** The peak of handler calls in flight up to `to`: the instances the emulator has created by then. */
export function instancesBy(probe: Probe, to: number): number {
  return Math.max(0, ...probe.req.filter((r) => r.arrived < to).map((r) => r.inFlight ?? 0));
}

/**
 * The burst in 100-ms steps from its start: the emulator's loop delay and GC, the CPU each
 * process used, replies written, and the slowest request that arrived in the step.
 */
export function timeline(p: Probe, cpu: CpuSample[], from: number, to: number): string {
  const steps = Math.ceil((to - from) / 100);
  const rows = [
    `| t ms | loop delay max ms | GC ms | CPU ms: ${PROCESSES.join(' / ')} | requests arrived / replies written | slowest arrival to reply ms (before handler / in it) |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const cpuAt = (at: number) => cpu.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best), cpu[0]!);
  for (let i = 0; i < steps; i++) {
    const a = from + i * 100;
    const b = a + 100;
    const inStep = (at: number) => at >= a && at < b;
    // The loop record written at the end of the 100 ms it covers.
    const loop = p.loop.filter((r) => r.at >= a + 50 && r.at < b + 50);
    const [c0, c1] = [cpuAt(a), cpuAt(b)];
    const arrived = p.req.filter((r) => inStep(r.arrived));
    const slowest = arrived.reduce<RequestRecord | undefined>(
      (worst, r) => (!worst || r.finished - r.arrived > worst.finished - worst.arrived ? r : worst),
      undefined,
    );
    rows.push(
      `| ${i * 100} | ${f0(Math.max(0, ...loop.map((r) => r.maxMs)))} | ${f0(p.gc.filter((r) => inStep(r.at)).reduce((s, r) => s + r.ms, 0))} | ${PROCESSES.map((name) => f0(c1.ms[name] - c0.ms[name])).join(' / ')} | ${arrived.length} / ${p.req.filter((r) => inStep(r.finished)).length} | ${
        slowest
          ? `${f0(slowest.finished - slowest.arrived)} (${f0((slowest.enter ?? Number.NaN) - slowest.arrived)} / ${f0((slowest.settled ?? Number.NaN) - (slowest.enter ?? Number.NaN))})`
          : ''
      } |`,
    );
  }
  return rows.join('\n');
}

/** Modules loaded in the window, slowest first. */
export function loads(p: Probe, from: number): string {
  return p.load
    .slice()
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 10)
    .map((r) => `- +${f0(r.at - from)} ms: ${r.file.replace(/^.*?(\.build-[^/]+|node_modules)\//, '$1/')} (${f1(r.ms)} ms)`)
    .join('\n');
}
