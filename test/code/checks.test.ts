import { describe, expect, it } from 'vitest';
import { runCommand } from '../support/processes';

/**
 * The checks CI runs are part of `npm test`, so the README's one test command runs them too. A
 * whole-project run each (tsc and type-aware lint take tens of seconds on two cores): selecting
 * other files (`npm test -- test/unit`) skips them.
 */
describe('the code', () => {
  const passes = async (script: string) => {
    const { code, stdout, stderr } = await runCommand('npm', ['run', '--silent', script], {}, 280_000);
    expect(code, `npm run ${script} failed:\n${stdout}\n${stderr}`.slice(0, 20_000)).toBe(0);
  };

  it('type-checks (npm run typecheck)', () => passes('typecheck'), 300_000);

  it('passes lint with zero warnings (npm run lint)', () => passes('lint'), 300_000);

  it('is formatted as Prettier formats it (npm run format:check)', () => passes('format:check'), 300_000);
});
