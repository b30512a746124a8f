/**
 * `npm run bench:load-tests`: the challenge's scenario as a user meets it, run after run, from a
 * fresh start.
 *
 *   npm run bench:load-tests -- [--runs 10] [--report FILE]
 *
 * Starts the gateway as the README does, `npm start -- --fresh` (new data directories; Redis,
 * FerretDB, the emulator and the worker at their defaults), with the shell's environment over
 * .env as `npm start` reads them. As soon as it prints its ready block, it runs `npm run
 * load-test` `--runs` times in a row at its defaults against the API the block names, signed with
 * the dev signing secret, then stops the gateway with Ctrl-C's signal. Nothing else is sent
 * before the first run. Per run: p50, p99 and max at the door, whether p99 < 150 ms, and the load
 * test's own verdict (nothing lost, nothing applied twice); then how many runs stayed under
 * 150 ms, the first included. Each run's report and the gateway's output are kept in
 * tmp/bench-load-tests/.
 * Figures, not assertions: the machine is shared, so the load average at each run's start is
 * printed beside them. Exits 1 when a load test fails its checks or does not finish, not when a
 * figure misses.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, parseEnv } from 'node:util';
import { runScript, type RunningProcess } from '../../test/support/processes';
import type { DoorFigures } from '../load-test/door-load';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    report: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
const TARGET_MS = 150;
const OUT = 'tmp/bench-load-tests';
/** How long `npm start` may take to print its ready block (a first start installs Redis and FerretDB). */
const START_TIMEOUT_MS = 600_000;
/** How long a script may take to stop after Ctrl-C's signal before its process group is killed. */
const STOP_TIMEOUT_MS = 60_000;

/** What one run's `--json` holds (scripts/load-test.ts). */
interface RunFigures {
  passed: boolean;
  door: DoorFigures;
  checks: Array<{ check: string; ok: boolean }>;
}

interface Run {
  run: number;
  load: string;
  exitCode: number | null;
  figures?: RunFigures;
}

/**
 * The API's URL from `npm start`'s ready block, once it is printed, or undefined once `stopped()`
 * says so; throws if the gateway exits first.
 */
async function readyApi(gateway: RunningProcess, stopped: () => boolean): Promise<string | undefined> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !stopped()) {
    const api = /The gateway is running[\s\S]*?\n\s*API\s+(http\S+)/.exec(gateway.output())?.[1];
    if (api) return api;
    if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) {
      throw new Error(`npm start -- --fresh exited before it was ready:\n${gateway.output().slice(-3000)}`);
    }
    await sleep(250);
  }
  if (stopped()) return undefined;
  throw new Error(`npm start -- --fresh was not ready within ${START_TIMEOUT_MS / 1000} s; its output is in ${OUT}/gateway.log`);
}

function row(r: Run): string {
  const f = r.figures;
  if (!f) return `| ${r.run} | ${r.load} | - | - | - | - | no figures (exit ${r.exitCode}) |`;
  const { p50, p99, max } = f.door.latency;
  return `| ${r.run} | ${r.load} | ${p50} | ${p99} | ${max} | ${p99 < TARGET_MS ? 'yes' : 'NO'} | ${f.passed ? 'PASS' : 'FAIL'} |`;
}

async function main(): Promise<number> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const startLog = join(OUT, 'gateway.log');
  const lines: string[] = [];
  const say = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  say(
    `Machine: ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}.`,
  );
  say(
    `Command: \`npm run bench:load-tests -- --runs ${RUNS}\`: \`npm start -- --fresh\`, then \`npm run load-test\` ${RUNS} time${RUNS === 1 ? '' : 's'} in a row at its defaults.`,
  );
  const gateway = runScript('start', {}, ['--fresh'], { log: startLog });
  let loadTest: RunningProcess | undefined;
  let interrupted = false;
  // Ctrl-C reaches this process alone (the gateway and each load test have process groups of their
  // own): it goes on to the running load test, and the gateway is stopped below.
  process.once('SIGINT', () => {
    interrupted = true;
    void loadTest?.interrupt(STOP_TIMEOUT_MS);
  });
  const runs: Run[] = [];
  try {
    const api = await readyApi(gateway, () => interrupted);
    if (api === undefined) return 130;
    // `npm start` keeps the signing secret it generated in .env; the shell's value wins, as there.
    const env = { ...(existsSync('.env') ? (parseEnv(readFileSync('.env', 'utf8')) as NodeJS.ProcessEnv) : {}), ...process.env };
    say(`The gateway was ready at ${api} (its output: ${startLog}).`);
    for (let run = 1; run <= RUNS && !interrupted; run++) {
      const json = join(OUT, `run-${run}.json`);
      const load = loadavg()
        .map((n) => n.toFixed(2))
        .join(' ');
      loadTest = runScript('load-test', env, ['--url', api, '--report', join(OUT, `run-${run}.md`), '--json', json], {
        log: join(OUT, `run-${run}.log`),
      });
      const exitCode = await loadTest.exited;
      if (interrupted) break;
      const figures = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as RunFigures) : undefined;
      runs.push({ run, load, exitCode, figures });
      console.log(
        `run ${run}: ${figures ? `p99 ${figures.door.latency.p99} ms, ${figures.passed ? 'PASS' : 'FAIL'}` : `no figures, exit ${exitCode}`}`,
      );
    }
  } finally {
    await gateway.interrupt(STOP_TIMEOUT_MS); // `npm start` stops its processes in order
  }
  if (interrupted) {
    console.log('Interrupted: the gateway is stopped, and no figures are printed.');
    return 130;
  }

  say('');
  say('| run | load average at its start (1, 5, 15 min) | p50 ms | p99 ms | max ms | p99 < 150 ms | load test |');
  say('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of runs) say(row(r));
  const under = runs.filter((r) => r.figures && r.figures.door.latency.p99 < TARGET_MS).length;
  const failed = runs.filter((r) => !r.figures?.passed || r.exitCode !== 0);
  say('');
  say(
    `**${under} of ${RUNS} runs had p99 < ${TARGET_MS} ms** (the first: ${runs[0]?.figures ? `p99 ${runs[0].figures.door.latency.p99} ms` : 'no figures'}).`,
  );
  say(
    failed.length === 0
      ? `Every run passed its checks: nothing lost, nothing applied twice.`
      : `${failed.length} run(s) failed their checks or did not finish: ${failed.map((r) => r.run).join(', ')} (see ${OUT}/run-N.md and .log).`,
  );
  if (args.report) writeFileSync(args.report, `${lines.join('\n')}\n`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
