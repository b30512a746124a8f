/**
 * How `npm start` turns its processes' output into one readable stream: every line prefixed with
 * the process's name, the emulator's route box reduced to one line per route, and the JSON log
 * lines of the Lambdas and the worker shown as `LEVEL message key=value ...`.
 */

/** Fields every Powertools line repeats; the prefix and the line's order already say them. */
const REPEATED_FIELDS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'sampling_rate',
  'xray_trace_id',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
]);

/** serverless-offline's box of invoke URLs: `/2015-03-31/functions/<name>/invocations`, one per route. */
const LAMBDA_INVOKE_PATH = '/2015-03-31/functions/';
const BOX_EDGE = /^[┌└]/;
const BOX_LINE = /^│(.*)│\s*$/;
const ROUTE = /^(ANY|GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\s*\|\s*(\S*)$/;
/** Redis's own prefix (`pid:role date time level`, or its signal handler's), which says nothing the stream does not. */
const REDIS_PREFIX = /^\d+:(?:[CMSX] \d{1,2} \w{3} \d{4} [\d:.]+ [.\-*#]|signal-handler \(\d+\)) /;

function renderValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/**
 * A Powertools JSON line as `LEVEL message key=value ...`, a CloudWatch metric line (EMF) as
 * `METRIC name=value dimension=value ...`; anything else unchanged.
 */
export function compactJsonLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return line;
  const { level, message, _aws: metricsHeader } = entry as Record<string, unknown>;
  const fields = (skip: (key: string) => boolean) =>
    Object.entries(entry)
      .filter(([key]) => !skip(key))
      .map(([key, value]) => `${key}=${renderValue(value)}`);
  if (typeof level === 'string' && typeof message === 'string')
    return [level, message, ...fields((key) => REPEATED_FIELDS.has(key))].join(' ');
  if (typeof metricsHeader === 'object' && metricsHeader !== null) {
    return ['METRIC', ...fields((key) => key === '_aws' || REPEATED_FIELDS.has(key))].join(' ');
  }
  return line;
}

/**
 * A formatter for one process's lines, with the state the emulator's box needs (a long route
 * wraps its URL onto the next line). Returns the lines to print: none, one, or a whole route.
 *
 * @example
 * const format = lineFormatter();
 * format('│   GET  | http://localhost:3000/health   │'); // ['GET  http://localhost:3000/health']
 */
export function lineFormatter(): (line: string) => string[] {
  let method: string | undefined;
  return (raw) => {
    const line = raw.trimEnd();
    if (line.trim() === '' || BOX_EDGE.test(line)) return [];
    const boxed = BOX_LINE.exec(line);
    if (boxed) {
      const content = boxed[1]!.trim();
      const route = ROUTE.exec(content);
      const url = route ? route[2]! : content;
      if (route) method = route[1]!;
      if (!url || !method) return [];
      const shown = `${method.padEnd(4)} ${url}`;
      method = undefined;
      return url.includes(LAMBDA_INVOKE_PATH) ? [] : [shown];
    }
    return [compactJsonLine(line.replace(REDIS_PREFIX, ''))];
  };
}

const COLORS = ['36', '35', '32', '33', '34', '31'] as const;

/** The stream every process's lines go to, prefixed `name | `, coloured on a terminal. */
export class LogStream {
  private readonly width: number;
  private readonly colors = new Map<string, string>();

  constructor(
    names: string[],
    private readonly out: NodeJS.WritableStream,
    private readonly color: boolean,
  ) {
    this.width = Math.max(...names.map((name) => name.length));
    names.forEach((name, index) => this.colors.set(name, COLORS[index % COLORS.length]!));
  }

  line(name: string, text: string): void {
    const prefix = `${name.padEnd(this.width)} |`;
    const code = this.colors.get(name);
    this.out.write(`${this.color && code ? `\x1b[${code}m${prefix}\x1b[0m` : prefix} ${text}\n`);
  }

  /** Text without a prefix, so a command in it can be copied as it is. */
  block(lines: string[]): void {
    this.out.write(`${lines.join('\n')}\n`);
  }
}
