// The overview: queue, dead-letter and ledger counts, and two charts of the last five minutes.
import { api, report } from './api.js';
import { $, counts, formatAge, svg } from './dom.js';

const HISTORY_MS = 5 * 60_000;

/** The samples the charts are drawn from: kept by this tab only, the gateway stores no history. */
const samples = [];

export function forgetSamples() {
  samples.length = 0;
}

export async function refreshOverview() {
  try {
    const [stats, dlq] = await Promise.all([api('/v1/ops/stats'), api('/v1/ops/dlq?limit=1')]);
    const queue = stats.queue || {};
    const backlog = (queue.waiting || 0) + (queue.delayed || 0) + (queue.active || 0) + (queue.prioritized || 0);
    const routed = (stats.ledger || {}).ROUTED || 0;
    const at = Date.parse(stats.at) || Date.now();
    samples.push({ at, backlog, routed });
    while (samples.length > 0 && samples[0].at < at - HISTORY_MS) samples.shift();

    $('oldest-waiting').textContent = formatAge(stats.oldestWaitingSeconds);
    counts($('queue-counts'), queue, ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
    $('dead-letters-pending').textContent = String(stats.deadLetterQueue?.pending ?? 0);
    counts($('dead-letter-reasons'), dlq.countsByReason || {});
    counts($('ledger-counts'), stats.ledger || {}, ['QUEUED', 'ROUTING_PENDING', 'FAILED', 'ROUTED', 'DEAD_LETTERED']);
    drawChart(
      $('backlog-chart'),
      samples.map((s) => ({ at: s.at, value: s.backlog })),
      'line-backlog',
      'events',
    );
    drawChart($('throughput-chart'), throughput(samples), 'line-throughput', 'per s');
    $('overview-updated').textContent = `updated ${new Date(at).toLocaleTimeString(undefined, { hour12: false })}`;
  } catch (error) {
    report($('overview-updated'), error);
  }
}

/** Events routed per second between consecutive samples. */
function throughput(points) {
  const rates = [];
  for (let i = 1; i < points.length; i += 1) {
    const seconds = (points[i].at - points[i - 1].at) / 1000;
    if (seconds > 0) rates.push({ at: points[i].at, value: Math.max(0, (points[i].routed - points[i - 1].routed) / seconds) });
  }
  return rates;
}

/** A line chart of the last five minutes, drawn as SVG from the samples alone. */
function drawChart(node, points, lineClass, unit) {
  const width = 480;
  const height = 150;
  const pad = { left: 44, right: 10, top: 10, bottom: 22 };
  const now = points.length ? points[points.length - 1].at : Date.now();
  const max = Math.max(1, ...points.map((p) => p.value));
  const top = niceCeiling(max);
  const x = (at) => pad.left + ((at - (now - HISTORY_MS)) / HISTORY_MS) * (width - pad.left - pad.right);
  const y = (value) => pad.top + (1 - value / top) * (height - pad.top - pad.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${unit} over the last 5 minutes` });
  for (const value of [0, top / 2, top]) {
    chart.append(svg('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
    chart.append(svg('text', { x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, formatNumber(value)));
  }
  chart.append(svg('text', { x: pad.left, y: height - 6 }, '−5 min'));
  chart.append(svg('text', { x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, 'now'));
  if (points.length > 0) {
    const path = points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { class: lineClass, points: path }));
    const last = points[points.length - 1];
    chart.append(svg('circle', { cx: x(last.at), cy: y(last.value), r: 3, class: lineClass }));
  }
  node.dataset.last = points.length ? String(points[points.length - 1].value) : '';
  node.replaceChildren(chart);
}

function niceCeiling(value) {
  const step = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (value <= factor * step) return factor * step;
  return 10 * step;
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
