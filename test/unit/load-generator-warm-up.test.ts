import { describe, expect, it } from 'vitest';
import { loadDoor, warmLoadGenerator } from '../../scripts/load-test/door-load';

describe("the load generator's warm-up", () => {
  it('runs the load the given number of times against a server of its own that answers each request 202, then closes it', async () => {
    const replies: Array<[number, string]> = [];
    const bases = new Set<string>();
    let n = 0;
    await warmLoadGenerator(async (base) => {
      bases.add(base);
      await loadDoor({
        url: `${base}/v1/events`,
        connections: 5,
        requests: 40,
        rate: 0,
        sign: () => ({ 'content-type': 'application/json' }),
        next: () => ({ eventId: `e-${n++}`, body: '{}' }),
        onReply: (_eventId, status, body) => replies.push([status, body]),
      });
    }, 2);
    expect(replies).toHaveLength(80);
    expect(new Set(replies.map(([status]) => status))).toEqual(new Set([202]));
    expect(JSON.parse(replies[0]![1])).toMatchObject({ accepted: true });
    // One server for every round, on this machine's loopback, and gone once the warm-up is over.
    expect(bases.size).toBe(1);
    const [base] = bases;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(fetch(`${base}/v1/events`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});
