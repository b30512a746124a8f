import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors';
import { parseRerouteRequest, rerouteFingerprint } from '../../lib/reroutes/reroute-request';

const window = { from: '2026-11-24T08:00:00Z', to: '2026-11-24T20:00:00Z' };
const base = { requestId: 'r-1', reason: 'hub AMS-1 closed' };

/** The fields a refused request names, each with why. */
function refused(input: unknown): Array<{ path: string; message: string }> {
  try {
    parseRerouteRequest(input);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('a re-route request', () => {
  it('is a dry run unless confirmed, by window or by ids', () => {
    expect(parseRerouteRequest({ ...base, filter: { ...window, source: 'dhl', status: 'ROUTED' } })).toMatchObject({
      confirm: false,
      filter: { source: 'dhl', status: 'ROUTED' },
    });
    expect(parseRerouteRequest({ ...base, ids: ['e-1', 'e-2'], confirm: true, ratePerSecond: 5 })).toMatchObject({
      confirm: true,
      ids: ['e-1', 'e-2'],
      ratePerSecond: 5,
    });
  });

  it('needs a selection: neither ids nor a filter names `filter`; both name `ids`', () => {
    expect(refused(base)).toEqual([{ path: 'filter', message: expect.stringContaining('a re-route needs a selection') }]);
    expect(refused({ ...base, ids: ['e-1'], filter: window })).toEqual([{ path: 'ids', message: expect.stringContaining('not both') }]);
  });

  it('refuses an empty filter, naming the window fields it lacks', () => {
    expect(refused({ ...base, filter: {} }).map((issue) => issue.path)).toEqual(['filter.from', 'filter.to']);
  });

  it('refuses a window over 24 hours, or one that ends before it starts', () => {
    expect(refused({ ...base, filter: { from: '2026-11-24T08:00:00Z', to: '2026-11-25T08:00:01Z' } })).toEqual([
      { path: 'filter.to', message: expect.stringContaining('longer than 24 hours') },
    ]);
    expect(refused({ ...base, filter: { from: window.to, to: window.from } })).toEqual([{ path: 'filter.from', message: 'is after `to`' }]);
  });

  it('names an unknown field, at the top or in the filter', () => {
    expect(refused({ ...base, ids: ['e-1'], dryRun: true })).toEqual([{ path: 'dryRun', message: 'is not a field of this request' }]);
    expect(refused({ ...base, filter: { ...window, hub: 'AMS-1' } })).toEqual([
      { path: 'filter.hub', message: 'is not a field of this request' },
    ]);
  });

  it('needs a reason, a request id that fits in a URL, a status it can re-route and a rate within the cap', () => {
    expect(refused({ requestId: 'r-1', ids: ['e-1'] }).map((i) => i.path)).toEqual(['reason']);
    expect(refused({ ...base, reason: '   ', ids: ['e-1'] }).map((i) => i.path)).toEqual(['reason']);
    expect(refused({ ...base, requestId: 'a/b', ids: ['e-1'] }).map((i) => i.path)).toEqual(['requestId']);
    expect(refused({ ...base, filter: { ...window, status: 'QUEUED' } }).map((i) => i.path)).toEqual(['filter.status']);
    expect(refused({ ...base, ids: ['e-1'], ratePerSecond: 1001 }).map((i) => i.path)).toEqual(['ratePerSecond']);
    expect(refused({ ...base, ids: ['e-1'], ratePerSecond: 0 }).map((i) => i.path)).toEqual(['ratePerSecond']);
    expect(refused({ ...base, ids: [] }).map((i) => i.path)).toEqual(['ids']);
  });

  it('is the same request with or without `confirm`, and another with any other change', () => {
    const dry = rerouteFingerprint(parseRerouteRequest({ ...base, filter: window }));
    expect(rerouteFingerprint(parseRerouteRequest({ ...base, filter: window, confirm: true }))).toBe(dry);
    expect(rerouteFingerprint(parseRerouteRequest({ ...base, reason: ' hub AMS-1 closed ', filter: window }))).toBe(dry);
    expect(rerouteFingerprint(parseRerouteRequest({ ...base, requestId: 'r-2', filter: window }))).toBe(dry);
    expect(rerouteFingerprint(parseRerouteRequest({ ...base, filter: { ...window, source: 'dhl' } }))).not.toBe(dry);
    expect(rerouteFingerprint(parseRerouteRequest({ ...base, filter: window, ratePerSecond: 5 }))).not.toBe(dry);
  });
});
