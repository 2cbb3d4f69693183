import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { HaproxyLab, type LabOptions } from '../../lab/haproxy.js';

/**
 * A lab for one test file: started before its tests, stopped after them; the runtime sessions its
 * traffic objects opened are closed after each test. Kept apart from
 * lab/haproxy.ts because the demo and the benchmarks load that file under plain Node, where
 * '@jest/globals' has no hooks to give.
 */
export function useHaproxyLab(options: LabOptions): HaproxyLab {
  const lab = new HaproxyLab(options);
  beforeAll(async () => {
    await lab.start();
  }, 60_000);
  afterEach(async () => {
    await lab.closeHandedOut();
  });
  afterAll(async () => {
    await lab.stop();
  }, 60_000);
  return lab;
}
