import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ConnectionLost, UserError } from '../src/errors.js';
import { connectSsh } from '../src/hosts/ssh.js';
import { sleep } from '../src/retry.js';
import type { SshSettings } from '../src/settings.js';
import { SshWorld, type SshHost } from '../lab/sshd.js';

/**
 * node-ssh listens for a connection's 'error' only while it connects: one emitted later (a reset,
 * a keepalive timeout) with no listener would end the action with a stack trace. Real sshd hosts on
 * 127.0.60.1 (a jump host) and 127.0.60.2; the runner reaches 127.0.60.1 through a TCP relay on
 * 127.0.60.9 that the test resets (RST), so a connection errors with ECONNRESET at a chosen moment.
 */
let world: SshWorld;
let jump: SshHost;
let target: SshHost;
const RELAY = { host: '127.0.60.9', port: 2222 };
let relay: Server;
/** The runner's side of each connection through the relay. */
const relayed: Socket[] = [];

beforeAll(async () => {
  world = await SshWorld.start({ network: '127.0.60', firstOctet: 1, hostsPerColor: { blue: 2, green: 0 }, logLevel: 'DEBUG1' });
  [jump, target] = world.hosts as [SshHost, SshHost];
  relay = createServer((client) => {
    relayed.push(client);
    const upstream = connect(jump.port, jump.address);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(RELAY.port, RELAY.host, resolve));
}, 120_000);
afterAll(async () => {
  for (const socket of relayed) socket.destroy();
  await new Promise((resolve) => relay?.close(resolve));
  await world?.stop();
});

/** SSH settings with the relay known by the jump host's key, as a host behind a load balancer would be. */
function settings(jumpHost?: SshSettings['jumpHost']): SshSettings {
  const relayLine = jump.knownHostsLine.replace(/^\S+/, `[${RELAY.host}]:${RELAY.port}`);
  return { ...world.ssh, knownHosts: `${world.knownHosts}\n${relayLine}`, ...(jumpHost && { jumpHost }) };
}

/** Resets every connection through the relay: the runner's side reads ECONNRESET. */
function resetRelayed(): void {
  for (const socket of relayed.splice(0)) socket.resetAndDestroy();
}

async function until(what: string, test: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

describe('an SSH connection that errors after it connected', () => {
  it('reports a reset of an idle connection to the next command as a lost connection, and the process lives on', async () => {
    const runner = await connectSsh({ ...RELAY, user: jump.user }, settings());
    try {
      expect((await runner.run(['echo', 'first'])).stdout).toBe('first\n');
      resetRelayed();
      await sleep(200);
      const lost = await runner.run(['echo', 'second']).catch((error: unknown) => error);
      expect(lost).toBeInstanceOf(ConnectionLost);
      expect((lost as ConnectionLost).message).toMatch(
        new RegExp(
          `^The SSH connection to ${jump.user}@\\[?127\\.0\\.60\\.9\\]?:2222 was lost \\(read ECONNRESET\\) before echo could start there, so nothing of it ran$`,
        ),
      );
    } finally {
      await runner.close();
    }
  }, 60_000);

  it('fails the connect with one line when the jump host connection is reset during the target handshake, and the process lives on', async () => {
    // The target's sshd is stopped: the jump host's forward reaches it, but its SSH greeting never comes.
    const sshd = world.sshdPid(target);
    process.kill(sshd, 'SIGSTOP');
    try {
      const connecting = connectSsh({ host: target.address, port: target.port, user: target.user }, settings({ ...RELAY, user: jump.user })).then(
        (runner) => (void runner.close(), 'connected'),
        (error: unknown) => error,
      );
      // The jump host logs the forward once it connected it; the runner then starts the target's
      // handshake through it, which waits for the greeting (up to the 20 s connect limit).
      await until('the forward to the target', () => world.sshdLog(jump).includes(`connected to ${target.address} port ${target.port}`));
      await sleep(300);
      resetRelayed();
      const failed = await connecting;
      expect(failed).toBeInstanceOf(UserError);
      expect((failed as UserError).message).toMatch(new RegExp(`^Cannot connect to ${target.user}@\\[?127\\.0\\.60\\.2\\]?:2222 over SSH: [^\\n]+$`));
    } finally {
      process.kill(sshd, 'SIGCONT');
    }
  }, 60_000);
});
