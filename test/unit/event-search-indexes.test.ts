import { describe, expect, it } from 'vitest';
import { EVENT_SEARCH_INDEXES } from '../../lib/store/mongo';

/**
 * MongoDB serves the operators' search from indexes: each filter field leads one, followed by the
 * received time the results are windowed and sorted by (newest first, `_id` breaking ties, as the
 * cursor pages). FerretDB ignores them and scans (npm run bench:search).
 */
describe('the indexes of the event search', () => {
  const keys = EVENT_SEARCH_INDEXES.map((index) => Object.entries(index.key));

  it.each(['shipmentId', 'orderId', 'source', 'eventType', 'status'])('serve a search by %s within a window, in page order', (field) => {
    expect(keys).toContainEqual([
      [field, 1],
      ['receivedAt', -1],
      ['_id', -1],
    ]);
  });

  it('serve a window alone, in page order', () => {
    expect(keys).toContainEqual([
      ['receivedAt', -1],
      ['_id', -1],
    ]);
  });

  it('each have a name of their own', () => {
    const names = EVENT_SEARCH_INDEXES.map((index) => index.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
