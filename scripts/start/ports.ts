import { createServer } from 'node:net';

/** A port `npm start` is about to listen on, and the variable that moves it. */
export interface PortClaim {
  port: number;
  variable: string;
  /** What listens there, as the error names it: "the API", "Redis". */
  what: string;
}

/**
 * Whether something already listens on `port`. The probe binds every interface: on Linux that
 * collides with a listener on any one address (127.0.0.1, ::1 or all), wherever ours will bind.
 */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(true));
    probe.listen({ port, exclusive: true }, () => probe.close(() => done(false)));
  });
}

/**
 * Every claim that cannot be met, as one line each naming the port and the variable that moves
 * it. Checked before anything starts, so a taken port never leaves half a gateway running.
 */
export async function portProblems(claims: PortClaim[]): Promise<string[]> {
  const problems: string[] = [];
  const seen = new Map<number, PortClaim>();
  for (const claim of claims) {
    const first = seen.get(claim.port);
    if (first) {
      problems.push(
        `${first.variable} and ${claim.variable} are both ${claim.port}: give ${claim.what} another port with ${claim.variable}`,
      );
      continue;
    }
    seen.set(claim.port, claim);
    if (await portInUse(claim.port)) {
      problems.push(
        `port ${claim.port} is in use (wanted by ${claim.what}): stop what listens there, or move ${claim.what} with ${claim.variable}, e.g. ${claim.variable}=${claim.port + 100} npm start`,
      );
    }
  }
  return problems;
}
