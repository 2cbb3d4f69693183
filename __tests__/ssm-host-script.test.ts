import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostScriptShellCommand } from '../src/hosts/host-script.js';
import { readSettings } from '../src/settings.js';
import { EXAMPLE_APP } from '../lab/sshd.js';

// The shell text an SSM command runs, with the real host script and real git, on this machine.
// The SSM agent ends a cancelled or timed-out command by killing the shell it started; the host
// script leads a session of its own, which that kill does not reach, so the script must notice
// and stop what it runs itself.
let dir: string;
let repository: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgp-ssm-script-'));
  repository = join(dir, 'repo');
  cpSync(EXAMPLE_APP, repository, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repository, '-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { stdio: 'pipe' });
  git('init', '--quiet');
  git('add', '.');
  git('commit', '--quiet', '-m', 'app');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const running = (pattern: string) => spawnSync('pgrep', ['-a', '-f', pattern], { encoding: 'utf8' }).stdout.trim();

describe('the host script under SSM', () => {
  it('stops a hung step and leaves nothing running when SSM kills the command’s shell', async () => {
    const marker = `bgp-hung-${randomBytes(4).toString('hex')}`;
    const inputs: Record<string, string> = {
      mode: 'deploy',
      provider: 'aws',
      'app-name': 'shop',
      'aws-region': 'eu-west-1',
      'listener-arn': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2',
      'blue-target-group': 'shop-blue',
      'green-target-group': 'shop-green',
      'blue-asg': 'shop-blue',
      'green-asg': 'shop-green',
      'release-repository': `file://${repository}`,
      'release-ref': 'HEAD',
      'app-dir': join(dir, 'app'),
      // A Carton stuck on a mirror; the marker names its processes.
      'install-command': `sleep 100000; : ${marker}`,
    };
    const settings = readSettings((name) => inputs[name] ?? '', { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' });
    const text = hostScriptShellCommand(settings, { name: 'i-0123', color: 'green', address: '127.0.0.1' }, marker, {
      kind: 'git',
      repository: `file://${repository}`,
      ref: 'HEAD',
    });
    const shell = spawn('sh', ['-c', text], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', TMPDIR: dir, HOME: dir }, stdio: 'ignore' });
    try {
      for (let i = 0; i < 300 && !running(`^sleep 100000$`); i++) await sleep(100);
      expect(running(marker)).toContain(marker);
      shell.kill('SIGKILL'); // as the SSM agent ends a cancelled command
      for (let i = 0; i < 150 && (running(marker) || running(`bluegreen-perl host script: release ${marker}`)); i++) await sleep(100);
      expect(running(marker)).toBe('');
      expect(running(`bluegreen-perl host script: release ${marker}`)).toBe('');
    } finally {
      shell.kill('SIGKILL');
    }
    const [log] = readdirSync(dir).filter((name) => name.startsWith('bluegreen-perl-host-script.'));
    for (let i = 0; i < 50 && !/==> FAILED/.test(readFileSync(join(dir, log!), 'utf8')); i++) await sleep(100);
    expect(readFileSync(join(dir, log!), 'utf8')).toMatch(
      /==> FAILED install: install was stopped: what started the host script has ended \(the SSM command was cancelled or timed out\)\n$/,
    );
    // It never went live, and nothing half-installed is left in releases/.
    expect(existsSync(join(dir, 'app', 'current'))).toBe(false);
    expect(readdirSync(join(dir, 'app', 'releases'))).toEqual([]);
  }, 60_000);
});
