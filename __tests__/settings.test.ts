import { describe, expect, it, jest } from '@jest/globals';
import { InputError } from '../src/errors.js';
import { readSettings } from '../src/settings.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const base = { mode: 'deploy', provider: 'ssh', 'app-name': 'shop', 'blue-hosts': '10.0.0.11, 10.0.0.12', 'green-hosts': '10.0.0.21\n10.0.0.22' };
const aws = {
  mode: 'switch',
  provider: 'aws',
  'app-name': 'shop',
  'aws-region': 'eu-west-1',
  'listener-arn': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2',
  'blue-target-group': 'shop-blue',
  'green-target-group': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-green/73e2d6bc24d8a067',
  'blue-asg': 'shop-blue-asg',
  'green-asg': 'shop-green-asg',
};

function settingsFrom(inputs: Record<string, string>, env: NodeJS.ProcessEnv = { GITHUB_SHA: SHA }) {
  return readSettings((name) => inputs[name] ?? '', env);
}

/** The InputError a set of inputs fails with. */
function inputErrorOf(inputs: Record<string, string>, env?: NodeJS.ProcessEnv): InputError {
  try {
    settingsFrom(inputs, env);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected the inputs to be refused');
}

describe('settings from inputs', () => {
  it('reads a valid ssh deploy into one typed object, with defaults applied', () => {
    const settings = settingsFrom(base);
    expect(settings.mode).toBe('deploy');
    expect(settings.release).toBe(SHA);
    expect(settings.provider).toEqual({
      name: 'ssh',
      hosts: { blue: [{ host: '10.0.0.11' }, { host: '10.0.0.12' }], green: [{ host: '10.0.0.21' }, { host: '10.0.0.22' }] },
    });
    expect(settings.health).toEqual({ path: '/health', expectedStatus: 200, timeoutMs: 5000, retries: 10, intervalMs: 3000 });
    expect(settings.hostRelease.appDir).toBe('/srv/shop');
    expect(settings.traffic.kind).toBe('haproxy');
    expect(settings.traffic.haproxyHost).toBeUndefined();
    expect(settings.dryRun).toBe(false);
  });

  it('reads hosts with users, ports and IPv6', () => {
    const settings = settingsFrom({ ...base, 'blue-hosts': 'app@web1.example.com:2222, [::1]:22', 'haproxy-host': 'lb@10.0.0.5:2200' });
    expect(settings.provider.name === 'ssh' && settings.provider.hosts.blue).toEqual([
      { host: 'web1.example.com', port: 2222, user: 'app' },
      { host: '::1', port: 22 },
    ]);
    expect(settings.traffic.haproxyHost).toEqual({ host: '10.0.0.5', port: 2200, user: 'lb' });
  });

  it('reads a valid aws switch, region from the environment when the input is empty', () => {
    const { 'aws-region': _region, ...inputs } = aws;
    const settings = settingsFrom(inputs, { GITHUB_SHA: SHA, AWS_REGION: 'us-east-2' });
    expect(settings.provider).toMatchObject({ name: 'aws', region: 'us-east-2', targetGroups: { blue: 'shop-blue' } });
    expect(settings.traffic.kind).toBe('alb');
  });

  // Each class of bad input: the error names the input and says what would fix it.
  it.each([
    ['an unknown mode', { ...base, mode: 'deploy-all' }, 'mode', /'deploy-all' is not one of deploy, switch, rollback/],
    ['an empty mode', { ...base, mode: '' }, 'mode', /is required\. Set it to one of deploy, switch, rollback/],
    ['an unknown provider', { ...base, provider: 'nowhere' }, 'provider', /'nowhere' is not one of aws, digitalocean, ssh/],
    ['an unknown color', { ...base, 'initial-color': 'purple' }, 'initial-color', /'purple' is not one of blue, green/],
    [
      'a non-number timeout',
      { ...base, 'health-timeout': 'soon' },
      'health-timeout',
      /'soon' is not a number of seconds.*Set health-timeout to seconds, for example 5/,
    ],
    ['a negative retry count', { ...base, 'health-retries': '-1' }, 'health-retries', /not a whole number from 0 to 1000/],
    ['a port out of range', { ...base, 'app-port': '70000' }, 'app-port', /not a whole number from 1 to 65535/],
    ['a non-boolean dry-run', { ...base, 'dry-run': 'maybe' }, 'dry-run', /'maybe' is not a boolean\. Use true or false/],
    ['a missing host list for ssh', { ...base, 'green-hosts': '' }, 'green-hosts', /provider ssh needs the hosts of the green color/],
    ['a malformed host', { ...base, 'blue-hosts': 'web1;rm -rf /' }, 'blue-hosts', /'web1;rm -rf \/' is not a host/],
    ['a duplicated host', { ...base, 'blue-hosts': '10.0.0.11, 10.0.0.11' }, 'blue-hosts', /lists 10\.0\.0\.11 twice/],
    [
      'a host listed twice, once with the default port',
      { ...base, 'blue-hosts': '10.0.0.11, deploy@10.0.0.11:22' },
      'blue-hosts',
      /lists 10\.0\.0\.11 twice \(as deploy@10\.0\.0\.11:22\)\. List each host once/,
    ],
    [
      'a host in both colors',
      { ...base, 'green-hosts': '10.0.0.21, 10.0.0.11' },
      'green-hosts',
      /^Input 'green-hosts': lists 10\.0\.0\.11, which blue-hosts lists too \(as 10\.0\.0\.11\): both inputs name one host\. A host belongs to one color: remove it from blue-hosts or green-hosts$/,
    ],
    [
      'a host in both colors, once with the default port and in capitals',
      { ...base, 'blue-hosts': 'Web1.Example.com', 'green-hosts': 'web1.example.com:22' },
      'green-hosts',
      /lists web1\.example\.com:22, which blue-hosts lists too \(as Web1\.Example\.com\)/,
    ],
    [
      'a host in both colors on the ssh-port given',
      { ...base, 'ssh-port': '2222', 'blue-hosts': '10.0.0.11:2222', 'green-hosts': '10.0.0.11' },
      'green-hosts',
      /lists 10\.0\.0\.11, which blue-hosts lists too \(as 10\.0\.0\.11:2222\)/,
    ],
    ['a missing DigitalOcean token', { ...base, provider: 'digitalocean' }, 'digitalocean-token', /is required here but empty.*secrets\.DIGITALOCEAN_TOKEN/],
    [
      'a tag that cannot be a DigitalOcean tag',
      { ...base, provider: 'digitalocean', 'digitalocean-token': 'dop_v1_x', 'blue-tag': 'env blue!' },
      'blue-tag',
      /'env blue!' is not valid/,
    ],
    ['a traffic kind the provider lacks', { ...base, traffic: 'alb' }, 'traffic', /'alb' does not work with provider ssh\. Use `haproxy`/],
    [
      'a DO load balancer without its id',
      { ...base, provider: 'digitalocean', 'digitalocean-token': 'dop_v1_x', traffic: 'do-lb' },
      'do-load-balancer-id',
      /needs the load balancer/,
    ],
    [
      'a listener ARN that cannot be right',
      { ...aws, 'listener-arn': 'arn:aws:elasticloadbalancing:eu-west-1:123:listener/app/x' },
      'listener-arn',
      /is not an application load balancer listener ARN/,
    ],
    ['a missing listener ARN', { ...aws, 'listener-arn': '' }, 'listener-arn', /is required with provider aws/],
    [
      'a target group that is neither name nor ARN',
      { ...aws, 'blue-target-group': 'arn:aws:s3:::bucket' },
      'blue-target-group',
      /neither a target group name nor a target group ARN/,
    ],
    ['a missing ASG', { ...aws, 'green-asg': '' }, 'green-asg', /is required/],
    ['a bad region', { ...aws, 'aws-region': 'mars' }, 'aws-region', /'mars' is not an AWS region/],
    ['a release id that climbs out of the releases directory', { ...base, release: '../../etc' }, 'release', /cannot name a release directory/],
    ['a relative health path', { ...base, 'health-path': 'health' }, 'health-path', /Use an absolute path/],
    ['a URL that is not http', { ...base, 'public-url': 'ftp://shop' }, 'public-url', /not an http\(s\) URL/],
    ['restart command without a command', { ...base, restart: 'command' }, 'restart-command', /no command is given/],
    [
      'both host-key verification and its opt-out',
      { ...base, 'ssh-known-hosts': 'h ssh-ed25519 AAAA', 'ssh-insecure-skip-host-key-check': 'true' },
      'ssh-insecure-skip-host-key-check',
      /Remove one of them/,
    ],
  ])('refuses %s, naming the input', (_case, inputs, input, message) => {
    const error = inputErrorOf(inputs);
    expect(error.input).toBe(input);
    expect(error.message.startsWith(`Input '${input}': `)).toBe(true);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
  });

  it.each([
    ['concurrency', '5', 'max-parallel-hosts'],
    ['environment', 'staging', 'deployment-environment'],
  ])('refuses the old input %s, naming the input it was renamed to', (old, value, renamed) => {
    const error = inputErrorOf({ ...base, [old]: value });
    expect(error.message).toBe(`Input '${old}': was renamed to ${renamed}. Write \`${renamed}:\` instead of \`${old}:\` in the step's \`with:\``);
  });

  it('reads the renamed inputs under their new names', () => {
    const settings = settingsFrom({ ...base, 'max-parallel-hosts': '3', 'github-deployment': 'true', 'deployment-environment': 'staging' });
    expect(settings.hostRelease.concurrency).toBe(3);
    expect(settings.github.deployment?.environment).toBe('staging');
  });

  it.each([
    ['shop_api', "'shop_api' would share the state variable BLUEGREEN_SHOP_API and its deploy lock with app `shop-api`"],
    ['shop.api', "'shop.api' would share the state variable BLUEGREEN_SHOP_API and its deploy lock with app `shop-api`"],
    ['Shop', "'Shop' would share the state variable BLUEGREEN_SHOP and its deploy lock with app `shop`"],
    ['shop-lock', "'shop-lock' would keep its state in BLUEGREEN_SHOP_LOCK, the deploy lock of app `shop`"],
    ['-shop', "'-shop' is not valid"],
    ['shop api', "'shop api' is not valid"],
  ])('refuses the app name %s, saying why', (appName, why) => {
    expect(inputErrorOf({ ...base, 'app-name': appName }).message).toBe(
      `Input 'app-name': ${why}. Use lowercase letters, digits and \`-\` only, at most 64 characters, for example \`shop-api\``,
    );
  });

  it('gives distinct app names distinct state and lock variables, from one function', async () => {
    const { appVariables } = await import('../src/app-variables.js');
    const names = ['shop', 'shop-api', 'shop--api', 'shop-api-2', 'shop2', '2shop'];
    const variables = names.map((appName) => settingsFrom({ ...base, 'app-name': appName }).github);
    expect(variables.map((v) => [v.stateVariable, v.lockVariable])).toEqual(names.map((appName) => [appVariables(appName).state, appVariables(appName).lock]));
    const all = variables.flatMap((v) => [v.stateVariable, v.lockVariable]);
    expect(new Set(all).size).toBe(all.length);
    expect(variables[1]).toMatchObject({ stateVariable: 'BLUEGREEN_SHOP_API', lockVariable: 'BLUEGREEN_SHOP_API_LOCK' });
    expect(inputErrorOf({ ...base, 'state-variable': 'BLUEGREEN_SHOP_LOCK' }).input).toBe('state-variable');
  });

  it('accepts one address in both colors on different SSH ports: they are different hosts', () => {
    const settings = settingsFrom({ ...base, 'blue-hosts': '127.0.0.1:2201', 'green-hosts': '127.0.0.1:2202, 127.0.0.1' });
    expect(settings.provider.name === 'ssh' && settings.provider.hosts.green).toEqual([{ host: '127.0.0.1', port: 2202 }, { host: '127.0.0.1' }]);
  });

  it('refuses a run without release id when GITHUB_SHA is not set', () => {
    expect(inputErrorOf(base, {}).input).toBe('release');
  });

  it('accepts a release id with shell metacharacters: commands quote it, it is data', () => {
    expect(settingsFrom({ ...base, release: "x'; touch /tmp/owned; echo '" }).release).toBe("x'; touch /tmp/owned; echo '");
  });

  it('masks a multi-line private key as a whole and line by line, and a token of a provider not in use', () => {
    const key = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ',
      'AAAAMwAAAAtzc2gtZWQyNTUxOQAAACDx',
      '-----END OPENSSH PRIVATE KEY-----',
    ].join('\n');
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      settingsFrom({ ...base, 'ssh-private-key': key, 'digitalocean-token': 'dop_v1_secret_token' });
    } finally {
      spy.mockRestore();
    }
    const masks = printed.filter((line) => line.startsWith('::add-mask::')).map((line) => line.replace('::add-mask::', '').trim());
    for (const line of key.split('\n')) expect(masks).toContain(line);
    expect(masks).toContain(key.replace(/\n/g, '%0A'));
    expect(masks).toContain('dop_v1_secret_token');
    expect(printed.join('')).not.toMatch(/b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ(?![\s\S]*::add-mask)/);
  });
});

describe('host time limits', () => {
  it('reads host-timeout and host-step-timeouts over their defaults', () => {
    expect(settingsFrom(base).hostRelease.timeouts).toEqual({
      hostSeconds: 1800,
      stepSeconds: { connect: 30, fetch: 300, install: 1200, check: 120, restart: 120, probe: 120 },
    });
    const timeouts = settingsFrom({ ...base, 'host-timeout': '600', 'host-step-timeouts': 'install = 900,\nprobe=60' }).hostRelease.timeouts;
    expect(timeouts).toEqual({ hostSeconds: 600, stepSeconds: { connect: 30, fetch: 300, install: 900, check: 120, restart: 120, probe: 60 } });
  });

  it('refuses a step it does not know and a limit that is not whole seconds, in one line naming the input', () => {
    expect(inputErrorOf({ ...base, 'host-step-timeouts': 'instal=900' }).message).toBe(
      "Input 'host-step-timeouts': 'instal=900' does not name a step. Write `step=seconds` pairs for connect, fetch, install, check, restart, probe, for example `install=1200,probe=120`",
    );
    expect(inputErrorOf({ ...base, 'host-step-timeouts': 'install=15m' }).message).toBe(
      "Input 'host-step-timeouts': 'install=15m' does not give install a whole number of seconds from 1 to 86400. Write for example `install=1200`",
    );
    expect(inputErrorOf({ ...base, 'host-timeout': '0' }).message).toMatch(/^Input 'host-timeout': '0' is not a whole number from 1 to 86400\./);
  });
});
