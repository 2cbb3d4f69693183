import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmodSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { DEFAULT_AWS_TIMING, AwsCalls } from '../src/aws/clients.js';
import { S3ReleaseArtifact } from '../src/hosts/s3-artifact.js';
import { hostScriptShellCommand, readHostScriptReport, type HostScriptReport } from '../src/hosts/host-script.js';
import { releaseTarball } from '../src/hosts/releaser.js';
import { connectSsh } from '../src/hosts/ssh.js';
import { StaticInventory } from '../src/inventory/static.js';
import type { Host } from '../src/providers/types.js';
import { S3Double } from '../lab/s3-double.js';
import { APP_PORT, EXAMPLE_APP, SshWorld, type SshHost } from '../lab/sshd.js';

// The S3 artifact of provider aws on a real host: the runner packs and uploads the release to the
// S3 double (127.0.42.1) through the real S3 client, and a real sshd host (127.0.41.N) runs the
// exact shell text SSM's AWS-RunShellScript would run: it downloads the tarball with curl (or wget)
// through the presigned URL, checks its SHA-256, installs it with Carton from the offline mirror
// and serves it with Server::Starter + Starman.
let world: SshWorld;
let s3: S3Double;
// Temporary credentials, as aws-actions/configure-aws-credentials leaves them: the presigned URL carries the token.
const CREDENTIALS = {
  accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE/+token=',
};
const ENV_NAMES = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
const savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  world = await SshWorld.start({ firstOctet: 11, hostsPerColor: { blue: 1, green: 1 }, network: '127.0.41' });
  s3 = await S3Double.start({ host: '127.0.42.1', region: 'eu-west-1', buckets: ['shop-releases'], credentials: CREDENTIALS });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: s3.url,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
  });
  delete process.env.AWS_PROFILE;
}, 60_000);

afterAll(async () => {
  await s3?.stop();
  await world?.stop();
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
}, 60_000);

interface HostRun {
  report: HostScriptReport;
  output: string;
  key: string;
  sha256: string;
}

/**
 * Uploads `path` as release `id`, then runs on the host the text SSM would get. `beforeRun` acts
 * between the two, as time or someone else would: expire the URL, change the object.
 */
async function releaseThroughS3(
  host: SshHost,
  id: string,
  path: string,
  { beforeRun = () => undefined, env = [] }: { beforeRun?: (key: string) => void; env?: string[] } = {},
): Promise<HostRun> {
  // Reading settings and uploading log (masks, the upload line): kept out of the test output.
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const settings = world.settings({ release: id, 'release-path': path });
  if (settings.provider.name !== 'ssh') throw new Error('the world is provider ssh');
  const [target] = (await new StaticInventory(settings.provider.hosts, settings).hostsOf(host.color)).filter((h: Host) => h.address === host.address);
  if (!target) throw new Error(`no host ${host.address}`);
  const artifact = S3ReleaseArtifact.forRegion('eu-west-1', new AwsCalls(DEFAULT_AWS_TIMING), { bucket: 'shop-releases', prefix: 'releases/' }, 'shop', path);
  try {
    const source = await artifact.sourceFor(id, 120_000);
    if (source.kind !== 'url') throw new Error('the S3 artifact gives a URL');
    const key = artifact.keyFor(id, source.sha256);
    beforeRun(key);
    const text = hostScriptShellCommand(settings, target, id, source);
    const runner = await connectSsh({ host: host.address, port: host.port, user: host.user }, world.ssh);
    try {
      // AWS-RunShellScript hands the commands to a shell as a script: here on its stdin.
      const { code, stdout, stderr } = await runner.run([...(env.length ? ['env', ...env] : []), 'sh'], { stdin: text, timeoutMs: 120_000 });
      const output = stdout + stderr;
      return { report: readHostScriptReport(output, code), output, key, sha256: source.sha256 };
    } finally {
      await runner.close();
    }
  } finally {
    artifact.close();
    write.mockRestore();
  }
}

function getOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const request = httpGet(url, { agent: false, timeout: 5000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve({ status: 0, body: error.message }));
  });
}

async function served(host: SshHost): Promise<{ release: string; color: string }> {
  const answer = await getOnce(`http://${host.address}:${APP_PORT}/`);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as { release: string; color: string };
}

const [blueHost, greenHost] = [() => world.hostsOf('blue')[0] as SshHost, () => world.hostsOf('green')[0] as SshHost];

describe('a release through S3 on a real host, as SSM runs it', () => {
  it('downloads the release with curl through the presigned URL, checks it, installs it with Carton and serves it', async () => {
    const { report, output, key, sha256 } = await releaseThroughS3(blueHost(), 's1', EXAMPLE_APP);
    expect(report).toMatchObject({ ok: true });
    expect(await served(blueHost())).toMatchObject({ release: 's1', color: 'blue' });
    expect(output).toContain(`SHA-256 ${sha256} as expected`);
    expect(output).toMatch(/^\$ curl --silent --show-error .* --config \S+\/url /m);
    // The URL is a credential: never printed on the host.
    expect(output).not.toContain('X-Amz-Signature');
    expect(s3.requests.filter((r) => r.key === key).map((r) => `${r.method} ${r.auth} ${r.status}`)).toEqual([
      'HEAD header 404',
      'PUT header 200',
      'GET query 200',
    ]);
    expect(s3.object('shop-releases', key)?.body.equals(await releaseTarball(EXAMPLE_APP))).toBe(true);
    expect(s3.authFailures).toEqual([]);
  }, 180_000);

  it('fails the host at fetch, with the two checksums, when the object in S3 is not what the runner uploaded; the live release keeps serving', async () => {
    const other = world.appVariant('tampered', () => undefined);
    const { report, sha256 } = await releaseThroughS3(blueHost(), 's2', other, {
      beforeRun: (key) => {
        const object = s3.object('shop-releases', key);
        if (!object) throw new Error('nothing was uploaded');
        object.body = Buffer.concat([object.body, Buffer.from('x')]);
      },
    });
    expect(report).toMatchObject({ ok: false, step: 'fetch' });
    expect(report.message).toMatch(
      new RegExp(`^the downloaded release has SHA-256 [0-9a-f]{64}, not ${sha256}: the object in S3 is not the tarball the runner uploaded$`),
    );
    expect(await served(blueHost())).toMatchObject({ release: 's1' });
  }, 180_000);

  it("fails the host at fetch with S3's answer when the presigned URL expired; the live release keeps serving", async () => {
    const { report } = await releaseThroughS3(blueHost(), 's3', EXAMPLE_APP, { beforeRun: () => (s3.clockOffsetMs = 60 * 60_000) });
    s3.clockOffsetMs = 0;
    expect(report).toMatchObject({ ok: false, step: 'fetch' });
    expect(report.message).toBe(
      'downloading the release from S3 failed: HTTP 403: AccessDenied (Request has expired); the presigned URL expired before this instance ran the release: deploy again',
    );
    expect(await served(blueHost())).toMatchObject({ release: 's1' });
  }, 180_000);

  it('downloads with wget on a host without curl', async () => {
    // A PATH with every command of /usr/bin but curl, readable by the host's user.
    const bin = join(world.dir, 'bin-without-curl');
    mkdirSync(bin, { recursive: true });
    chmodSync(bin, 0o755);
    for (const name of readdirSync('/usr/bin')) if (name !== 'curl') symlinkSync(join('/usr/bin', name), join(bin, name));
    const { report, output, sha256 } = await releaseThroughS3(greenHost(), 'g1', EXAMPLE_APP, { env: [`PATH=${bin}`] });
    expect(report).toMatchObject({ ok: true });
    expect(output).toMatch(/^\$ wget --quiet /m);
    expect(output).toContain(`SHA-256 ${sha256} as expected`);
    expect(await served(greenHost())).toMatchObject({ release: 'g1', color: 'green' });
  }, 180_000);
});
