import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type RunningProcess } from '../support/processes';
import { isolatedEnv, startOffline, startWorker } from '../support/stack';

/** What `npm run load-test -- --json FILE` writes. */
interface RunJson {
  passed: boolean;
  door: { latency: { p50: number; p99: number; max: number }; codes: Record<string, number> };
  checks: Array<{ check: string; ok: boolean }>;
}

/**
 * A short run of the load-test proof itself (`npm run load-test`) against a native stack, so the
 * proof cannot silently rot: duplicates and routing failures on, reconciliation must pass.
 */
describe('the load test', () => {
  const env = isolatedEnv('load', { ROUTING_LATENCY_MS: '50', BACKOFF_BASE_MS: '200', BACKOFF_MAX_MS: '1000', MAX_BACKLOG: '1000000' });
  let offline: RunningProcess;
  let worker: RunningProcess;
  let baseUrl: string;

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
  });
  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
  });

  /** `npm run load-test` against the stack with these options: its report, once it passed, and what its `--json` wrote. */
  async function loadTest(options: string[]): Promise<{ text: string; json: RunJson }> {
    const dir = mkdtempSync(join(tmpdir(), 'load-'));
    const report = join(dir, 'report.md');
    const run = await runCommand(
      'npm',
      [
        'run',
        '--silent',
        'load-test',
        '--',
        '--url',
        baseUrl,
        ...options,
        '--drain-timeout',
        '240',
        '--report',
        report,
        '--json',
        join(dir, 'run.json'),
      ],
      env,
      300_000,
    );
    expect(run.code, run.stdout.slice(-3000) + run.stderr.slice(-2000)).toBe(0);
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('**PASS**');
    return { text, json: JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunJson };
  }

  it('reconciles a run with duplicates and routing failures exactly, and writes its report', async () => {
    const { text, json } = await loadTest(['--requests', '300', '--connections', '25', '--duplicates', '0.1', '--failure-rate', '0.2']);
    // The same figures and verdict for scripts (npm run bench:load-tests reads them).
    expect(json.passed).toBe(true);
    expect(json.door.codes).toEqual({ '202': 300 });
    const { p50, p99, max } = json.door.latency;
    expect(text).toMatch(new RegExp(`\\| ${p50} ms \\| [^|]+ \\| ${p99} ms \\| [^|]+ \\| ${max} ms \\|`));
    expect(json.checks.length).toBe(text.match(/^- PASS: /gm)?.length);
    for (const check of [
      'zero non-2xx',
      'zero lost',
      'duplicates suppressed: of \\d+ re-sent, zero events applied more than once',
      'the door flagged exactly the re-sends',
      'retries observed',
    ]) {
      expect(text).toMatch(new RegExp(`- PASS: ${check}`));
    }
    expect(text).toMatch(/\| lost \(accepted, yet neither in the ledger nor in Redis\) \| 0 \| ok \|/);
    expect(text).toMatch(/\| events applied more than once \(shipment version records[^|]*\| 0 \| ok \|/);
    expect(text).toMatch(/How the latencies were measured: closed loop/);
    expect(text).toContain('## Queue depth over time');
  }, 360_000);

  it('runs an open loop at a stated rate, timing each request from when it was due', async () => {
    const { text } = await loadTest(['--requests', '200', '--rate', '50', '--connections', '20', '--failure-rate', '0.2']);
    expect(text).toMatch(/How the latencies were measured: open loop at 50 requests\/s: one request due every 20\.00 ms/);
    expect(text).toMatch(/Reply codes: 202: 200;/);
  }, 360_000);
});
