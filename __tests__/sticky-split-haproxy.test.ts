import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HaproxyLab } from '../lab/haproxy.js';

/**
 * The sticky split on a real HAProxy in front of real Starman servers: during a progressive step a
 * client that has HAProxy's bg_color cookie stays on its color, clients without one split at the
 * step's percent; when the split ends (the last step, or a move back) everyone goes to the live color.
 */
const lab = new HaproxyLab({ base: 226, live: 'blue' });
beforeAll(async () => {
  await lab.start();
}, 60_000);
afterAll(async () => {
  await lab.stop();
}, 60_000);

/** One GET / through the live route, with a cookie or without: the color that answered and the cookie HAProxy set. */
async function get(cookie?: string): Promise<{ color: string; setCookie: string | null }> {
  const response = await fetch(`${lab.liveUrl}/`, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { color: string };
  return { color: body.color, setCookie: response.headers.get('set-cookie') };
}

/** Clients that each made a first request without a cookie and keep what HAProxy set. */
async function newClients(count: number): Promise<{ cookie: string; color: string }[]> {
  const clients = [];
  for (let i = 0; i < count; i++) {
    const { color, setCookie } = await get();
    const cookie = /^(bg_color=bg_\w+);/.exec(setCookie ?? '')?.[1];
    if (!cookie) throw new Error(`no bg_color cookie in the answer of ${color}: ${setCookie}`);
    clients.push({ cookie, color });
  }
  return clients;
}

/** The colors each client gets over `rounds` more requests with its cookie. */
async function colorsSeen(clients: { cookie: string }[], rounds: number): Promise<Set<string>[]> {
  const seen = clients.map(() => new Set<string>());
  for (let round = 0; round < rounds; round++) {
    for (const [i, client] of clients.entries()) seen[i]?.add((await get(client.cookie)).color);
  }
  return seen;
}

// 400 cookie-less requests at 30%: the count of green answers is binomial (sd 9.2), so ±40 is over 4 sd.
const REQUESTS = 400;
const TOLERANCE = 40;

describe('sticky progressive split on a real HAProxy', () => {
  it('keeps cookie holders on their color through the steps, splits new clients at the percent, and moves everyone at the last step', async () => {
    const traffic = lab.traffic();
    try {
      await traffic.shiftTo('green', 30, lab.hosts.green);
      let green = 0;
      for (let i = 0; i < REQUESTS; i++) {
        const { color, setCookie } = await get();
        if (color === 'green') green++;
        // The cookie names the color that answered.
        expect(setCookie).toBe(`bg_color=bg_${color}; Path=/; HttpOnly; SameSite=Lax`);
      }
      expect(Math.abs(green - REQUESTS * 0.3)).toBeLessThanOrEqual(TOLERANCE);

      const clients = await newClients(40);
      expect(new Set(clients.map((c) => c.color))).toEqual(new Set(['blue', 'green']));
      expect((await colorsSeen(clients, 5)).map((colors) => [...colors])).toEqual(clients.map((c) => [c.color]));
      // A cookie holder gets no new cookie.
      expect((await get(clients[0]?.cookie)).setCookie).toBeNull();

      // The next step: cookie holders still keep their color; new clients now split at 60%.
      await traffic.shiftTo('green', 60, lab.hosts.green);
      expect((await colorsSeen(clients, 5)).map((colors) => [...colors])).toEqual(clients.map((c) => [c.color]));
      green = 0;
      for (let i = 0; i < REQUESTS; i++) if ((await get()).color === 'green') green++;
      expect(Math.abs(green - REQUESTS * 0.6)).toBeLessThanOrEqual(TOLERANCE);

      // The last step: every answer from green, cookie or not, and no cookie set.
      await traffic.moveTo('green', lab.hosts.green);
      for (const client of clients) expect(await get(client.cookie)).toEqual({ color: 'green', setCookie: null });
      for (let i = 0; i < 20; i++) expect(await get()).toEqual({ color: 'green', setCookie: null });
    } finally {
      await traffic.close();
    }
  }, 60_000);

  it('a move back during a split sends everyone, cookie holders included, to the color moved back to', async () => {
    const traffic = lab.traffic();
    try {
      await traffic.shiftTo('blue', 50, lab.hosts.blue);
      const clients = await newClients(20);
      expect(clients.some((c) => c.color === 'blue')).toBe(true);
      await traffic.moveTo('green', lab.hosts.green);
      for (const client of clients) expect(await get(client.cookie)).toEqual({ color: 'green', setCookie: null });
      expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
    } finally {
      await traffic.close();
    }
  }, 60_000);
});
