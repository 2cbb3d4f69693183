/**
 * One run of the action in a process of its own, against the world of lab/memory-provider.ts, for a
 * test that kills it between phases. It prints what the world looks like and `<STOP>-STARTED` when
 * it reaches the stop point, then waits to be killed (60 s at most):
 * - `health`: the deploy's health check (the release is done); prints `HOSTS <releases as JSON>`;
 * - `validate`: the switch's validation (traffic has moved); prints `LIVE <color>`.
 * Usage: node --import tsx deploy-child.ts '<inputs as JSON>' '<environment as JSON>' [health|validate]
 */
import { run } from '../../src/run/run.js';
import { MemoryWorld } from '../../lab/memory-provider.js';

const inputs = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>;
const env = JSON.parse(process.argv[3] ?? '{}') as NodeJS.ProcessEnv;
const stopAt = process.argv[4] ?? 'health';
const world = new MemoryWorld();

async function stopHere(report: string): Promise<never> {
  process.stdout.write(`${report}\n${stopAt.toUpperCase()}-STARTED\n`);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  throw new Error('not killed in time');
}

if (stopAt === 'health') {
  world.health.check = () => stopHere(`HOSTS ${JSON.stringify([...world.releases])}`);
} else {
  const readLive = world.traffic.readLive;
  // The validation reads the live color back: the first read after a move.
  world.traffic.readLive = () => (world.moves.length > 0 ? stopHere(`LIVE ${JSON.stringify(world.live)}`) : readLive());
}
await run({ source: (name) => inputs[name] ?? '', env, createProvider: () => world });
