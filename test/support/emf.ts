import { vi } from 'vitest';

/** One CloudWatch Embedded Metric Format line, as CloudWatch Logs reads it. */
export interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }>;
  };
  [field: string]: unknown;
}

/** Parses the EMF lines out of some output; other lines are ignored. */
export function emfLines(output: string): EmfLine[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

/**
 * Runs `fn` and returns the EMF lines written to stdout meanwhile: Powertools Metrics writes
 * there (on Lambda and ECS the log driver carries stdout to CloudWatch Logs). Other output
 * passes through untouched.
 */
export async function captureEmf(fn: () => unknown): Promise<EmfLine[]> {
  const write = process.stdout.write.bind(process.stdout);
  let captured = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    if (text.includes('"_aws"')) {
      captured += text;
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return emfLines(captured);
}
