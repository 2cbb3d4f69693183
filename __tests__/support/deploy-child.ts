/**
 * One run of the action in a process of its own, against the world of memory-provider.ts, for a
 * test that kills it between phases. Its health check prints what the hosts run and
 * `HEALTH-CHECK-STARTED`, then waits to be killed (60 s at most).
 * Usage: node --import tsx deploy-child.ts '<inputs as JSON>' '<environment as JSON>'
 */
import { run } from '../../src/run.js';
import { MemoryWorld } from './memory-provider.js';

const inputs = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>;
const env = JSON.parse(process.argv[3] ?? '{}') as NodeJS.ProcessEnv;
const world = new MemoryWorld();
world.health.check = async () => {
  process.stdout.write(`HOSTS ${JSON.stringify([...world.releases])}\nHEALTH-CHECK-STARTED\n`);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  throw new Error('not killed in time');
};
await run({ source: (name) => inputs[name] ?? '', env, createProvider: () => world });
