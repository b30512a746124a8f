/**
 * Where the worker process is in its life. Only RUNNING can be healthy: a STARTING worker has
 * not connected yet, and a DRAINING one takes no new jobs, so a container orchestrator should
 * neither count it as capacity nor restart it mid-drain (its stop timeout does that).
 */
export const WorkerPhase = { STARTING: 'STARTING', RUNNING: 'RUNNING', DRAINING: 'DRAINING' } as const;
export type WorkerPhase = (typeof WorkerPhase)[keyof typeof WorkerPhase];

/** What the health check looks at, read fresh on every request. */
export interface WorkerHealthSignals {
  phase: WorkerPhase;
  /** ioredis's connection status; `ready` once connected and past its ready check. */
  redisStatus: string;
  /** BullMQ's `Worker.isRunning()`: the loop that fetches jobs is alive. */
  fetching: boolean;
}

/** The body of `GET /health`. */
export interface WorkerHealth {
  healthy: boolean;
  phase: WorkerPhase;
  redis: string;
  fetching: boolean;
}

/**
 * Healthy means "this process is taking jobs right now": running, not draining, with its Redis
 * connection up. Mongo is left out on purpose: a Mongo outage turns jobs into retries, and
 * restarting every worker would not bring Mongo back.
 *
 * @example
 * assessWorkerHealth({ phase: WorkerPhase.DRAINING, redisStatus: 'ready', fetching: true }).healthy; // false
 */
export function assessWorkerHealth(signals: WorkerHealthSignals): WorkerHealth {
  const healthy = signals.phase === WorkerPhase.RUNNING && signals.fetching && signals.redisStatus === 'ready';
  return { healthy, phase: signals.phase, redis: signals.redisStatus, fetching: signals.fetching };
}
