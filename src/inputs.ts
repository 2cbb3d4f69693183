/**
 * Every input and output of the action, in one table. action.yml and the README's input reference
 * are generated from it (`npm run docs`), and a test fails when they drift, so the code, the action
 * metadata and the docs always agree. Defaults here are also applied when the runner did not pass an
 * input (for example `node dist/index.js` run by hand).
 */

/**
 * Files left out of an uploaded release unless `release-exclude` keeps them (`!pattern`): the
 * credentials that earlier steps of a job, or tools run by hand, leave in a workspace (git and
 * package-registry logins, cloud and SSH keys, certificates' private keys, dotenv files). Shipping
 * them would put them on every host, readable by the app. The app's own secrets belong on the
 * hosts, in `shared-paths`. Kept with the inputs (release-exclude's description lists them) so
 * that this table, which settings and the docs read, imports nothing from the layers above it.
 */
export const CREDENTIAL_PATTERNS = [
  '.git-credentials', // git credential-store, actions/checkout with persist-credentials on some setups
  '.netrc',
  '_netrc',
  '.npmrc', // actions/setup-node writes one with the registry token
  '.pypirc',
  '.pgpass',
  '.my.cnf',
  '.env',
  '.envrc',
  'gha-creds-*.json', // google-github-actions/auth writes its credentials into the workspace
  '.aws/',
  '.azure/',
  '.config/gcloud/',
  '.docker/',
  '.gnupg/',
  '.kube/',
  '.ssh/',
  'id_rsa*',
  'id_dsa*',
  'id_ecdsa*',
  'id_ed25519*',
  '*.pem',
  '*.key',
  '*.p12',
  '*.pfx',
] as const;

export interface InputSpec {
  description: string;
  /** Default as written in action.yml; `${{ ... }}` expressions are resolved by the runner only. */
  default?: string;
  required?: boolean;
  /** Masked with core.setSecret as soon as it is read. */
  secret?: boolean;
  section:
    'General' | 'Health' | 'Release on hosts' | 'SSH' | 'Traffic' | 'Progressive switch and validation' | 'Hooks' | 'DigitalOcean' | 'AWS' | 'State and GitHub';
}

export const INPUTS = {
  mode: {
    section: 'General',
    required: true,
    description:
      'What this run does: `deploy` (release to the idle color, prove it healthy, no traffic change), `switch` (move traffic to the idle color after health checks, validate, move back on failure) or `rollback` (send traffic back to the previous color).',
  },
  provider: {
    section: 'General',
    required: true,
    description: 'Where the hosts live: `aws` (ALB + Auto Scaling Groups + SSM), `digitalocean` (Droplets by tag + SSH), or `ssh` (static host lists + SSH).',
  },
  'app-name': {
    section: 'General',
    required: true,
    description:
      'Name of the application: keys the state variable and the deploy lock, and names the default app directory. Lowercase letters, digits and `-`, at most 64 characters (so that no two names share a state variable).',
  },
  release: {
    section: 'General',
    default: '${{ github.sha }}',
    description: 'Release id: names the release directory on each host and is reported by the app. Defaults to the commit that triggered the workflow.',
  },
  'initial-color': {
    section: 'General',
    default: 'blue',
    description: 'Color the first release goes to, when nothing is live yet: `blue` or `green`.',
  },
  'dry-run': {
    section: 'General',
    default: 'false',
    description: 'Print the plan (phases, hosts it would touch, traffic change) and change nothing. What cannot be read is shown as unknown.',
  },
  'health-path': {
    section: 'Health',
    default: '/health',
    description: 'HTTP path probed on each host, on the preview route and on the public entry point.',
  },
  'health-expected-status': {
    section: 'Health',
    default: '200',
    description: 'HTTP status a healthy probe answers with.',
  },
  'health-timeout': {
    section: 'Health',
    default: '5',
    description: 'Seconds one probe request may take.',
  },
  'health-retries': {
    section: 'Health',
    default: '10',
    description: 'How many times a failing probe is retried before the host counts as unhealthy.',
  },
  'health-interval': {
    section: 'Health',
    default: '3',
    description: 'Seconds between probe attempts (grows with backoff, up to four times this).',
  },
  'probe-via': {
    section: 'Health',
    default: 'auto',
    description:
      "How the runner reaches each host's health URL and the preview route: `direct`; `jump-host`, an HTTP request over a TCP connection that `ssh-jump-host` opens (for private hosts a GitHub-hosted runner cannot reach); or `auto`, which is `jump-host` when `ssh-jump-host` is set (providers ssh and digitalocean) and `direct` otherwise. Checks of `public-url` are always direct.",
  },
  'app-port': {
    section: 'Health',
    default: '5000',
    description: 'Port the application listens on, on each host (probed directly, and used as HAProxy server port).',
  },
  'app-listen-address': {
    section: 'Health',
    default: '0.0.0.0',
    description:
      'Address the app listens on, on each host: `0.0.0.0` (every interface), an IP address, or `host` for the address the action reaches that host at (a private VPC address, say).',
  },
  'app-dir': {
    section: 'Release on hosts',
    default: '',
    description:
      "Directory on each host that holds `releases/`, `shared/` and the `current` symlink. A relative path is inside the SSH user's home. Default: `/srv/<app-name>`.",
  },
  'release-path': {
    section: 'Release on hosts',
    default: '.',
    description:
      'Directory on the runner that is uploaded as the release (a tarball without `.git/`, `local/` and credential files, see `release-exclude`; streamed over SSH, or with provider aws stored in `release-bucket`), relative to the workspace. Check the code out first: a deploy fails before touching anything when it is empty or lacks `psgi-file`, or the `cpanfile` (`cpanfile.snapshot`) the install step needs.',
  },
  'release-exclude': {
    section: 'Release on hosts',
    default: '',
    description: `Files left out of the uploaded release, one pattern per line or comma-separated, with .gitignore's rules (\`*\`, \`**\`, a trailing \`/\` for a directory, a \`/\` inside for a path from release-path). Credential files are always left out unless a \`!pattern\` keeps them: ${CREDENTIAL_PATTERNS.map((p) => `\`${p}\``).join(', ')}. Example: \`!config/ca.pem\`.`,
  },
  'release-repository': {
    section: 'Release on hosts',
    default: '',
    description:
      'Git repository each host fetches the release from (a shallow fetch of `release-ref`) instead of an upload. The hosts need read access to it: for a private repository an SSH URL (`git@github.com:owner/repo.git`) with a read-only deploy key on each host (a deploy key does not work over an `https://` URL).',
  },
  'release-ref': {
    section: 'Release on hosts',
    default: '${{ github.sha }}',
    description: 'Branch, tag or commit fetched from `release-repository`.',
  },
  'psgi-file': {
    section: 'Release on hosts',
    default: 'app.psgi',
    description: 'PSGI entry point, relative to the release directory; checked with `perl -c` before the switch.',
  },
  'install-command': {
    section: 'Release on hosts',
    default: '',
    description:
      'Command that installs CPAN dependencies in the release directory. Default: `carton install --deployment` when `cpanfile.snapshot` exists, else `cpanm --installdeps -L local .`.',
  },
  'cpan-mirror': {
    section: 'Release on hosts',
    default: '',
    description: 'CPAN mirror URL for Carton and cpanm (a Pinto or DarkPAN mirror, or `file:///path`). Default: the public CPAN.',
  },
  'test-command': {
    section: 'Release on hosts',
    default: '',
    description: 'Optional command run in the release directory before it goes live, for example `prove -l t`.',
  },
  'shared-paths': {
    section: 'Release on hosts',
    default: '',
    description:
      'Files and directories kept across releases (config, `.env`, logs), one per line or comma-separated, relative to the release; linked from `<app-dir>/shared/`.',
  },
  restart: {
    section: 'Release on hosts',
    default: 'server-starter',
    description:
      'How the app restarts gracefully: `server-starter` (Server::Starter + HUP), `starman` (HUP to the master), `systemd` (reload a unit) or `command` (your own `restart-command`).',
  },
  'restart-command': {
    section: 'Release on hosts',
    default: '',
    description: 'Command run on each host when `restart: command`.',
  },
  'systemd-unit': {
    section: 'Release on hosts',
    default: '',
    description: 'Unit reloaded when `restart: systemd`. Default: `<app-name>.service`.',
  },
  'keep-releases': {
    section: 'Release on hosts',
    default: '5',
    description: 'How many releases to keep on each host (the live one and the ones a rollback may need).',
  },
  'max-parallel-hosts': {
    section: 'Release on hosts',
    default: '10',
    description: 'How many hosts of a color receive the release at once.',
  },
  'host-timeout': {
    section: 'Release on hosts',
    default: '1800',
    description:
      'Seconds the release may take on one host, all steps together. A host that runs out of time fails naming the step it was in, with its last output; what the release started there is ended, its previous release stays live, and the other hosts go on.',
  },
  'host-step-timeouts': {
    section: 'Release on hosts',
    default: 'connect=30,fetch=300,install=1200,check=120,restart=120,probe=120',
    description:
      'Seconds each step may take on one host, as `step=seconds` pairs separated by commas or newlines; a step left out keeps its default. Steps: `connect`, `fetch`, `install`, `check`, `restart`, `probe`. A step that runs out of time is ended (its processes too) and fails, and the previous release stays live or is put back.',
  },
  'blue-hosts': {
    section: 'SSH',
    default: '',
    description: 'For `provider: ssh`: the hosts of the blue color, `host` or `host:port`, one per line or comma-separated.',
  },
  'green-hosts': {
    section: 'SSH',
    default: '',
    description: 'For `provider: ssh`: the hosts of the green color, as `blue-hosts`.',
  },
  'ssh-user': {
    section: 'SSH',
    default: 'deploy',
    description: 'User the action logs in as on every host.',
  },
  'ssh-port': {
    section: 'SSH',
    default: '22',
    description: 'SSH port, unless a host names its own.',
  },
  'ssh-private-key': {
    section: 'SSH',
    secret: true,
    default: '',
    description: 'Private key (PEM or OpenSSH format) for SSH. Pass it from a secret; it is masked in logs.',
  },
  'ssh-known-hosts': {
    section: 'SSH',
    default: '',
    description: 'known_hosts lines for every host (and the jump host). Host keys are verified against them; get them with `ssh-keyscan`.',
  },
  'ssh-insecure-skip-host-key-check': {
    section: 'SSH',
    default: 'false',
    description: 'Accept any host key. Only for throwaway hosts: it allows a man in the middle. Prints a warning.',
  },
  'ssh-jump-host': {
    section: 'SSH',
    default: '',
    description: 'Optional bastion, `[user@]host[:port]`, that SSH connections go through.',
  },
  traffic: {
    section: 'Traffic',
    default: '',
    description: 'What moves traffic: `haproxy`, `do-lb` (a DigitalOcean Load Balancer) or `alb`. Default: `alb` for aws, `haproxy` otherwise.',
  },
  'haproxy-host': {
    section: 'Traffic',
    default: 'local',
    description: 'Host that runs HAProxy, reached over SSH as `[user@]host[:port]`, or `local` for HAProxy on the runner.',
  },
  'haproxy-socket': {
    section: 'Traffic',
    default: '/run/haproxy/admin.sock',
    description: "HAProxy's admin socket (runtime API), on the HAProxy host.",
  },
  'haproxy-config': {
    section: 'Traffic',
    default: '/etc/haproxy/haproxy.cfg',
    description: 'HAProxy configuration file the action renders when hosts are added or removed.',
  },
  'haproxy-bind': {
    section: 'Traffic',
    default: '*:80',
    description: 'Where the HAProxy the action manages listens for live traffic: `address:port`, `*:port` for every address.',
  },
  'haproxy-preview-bind': {
    section: 'Traffic',
    default: '*:8080',
    description:
      'Where that HAProxy listens for the preview route, which reaches the idle color without touching live traffic. Keep it private (a firewall or a private address).',
  },
  'public-url': {
    section: 'Traffic',
    default: '',
    description: 'URL of the public entry point, probed after a switch to validate it.',
  },
  'preview-url': {
    section: 'Traffic',
    default: '',
    description: 'URL of the preview route that reaches the idle color without touching live traffic.',
  },
  'min-healthy-hosts': {
    section: 'Traffic',
    default: '',
    description: 'Switch even when some hosts of the new color are unhealthy, as long as this many are healthy. Default: all.',
  },
  'drain-timeout': {
    section: 'Traffic',
    default: '30',
    description: "Seconds to wait after a switch for the old color's in-flight connections to finish.",
  },
  'traffic-steps': {
    section: 'Progressive switch and validation',
    default: '100',
    description:
      'Share of traffic (percent) on the new color at each step of a switch, for example `10,50,100`: increasing, ending at 100. Each step is its own phase, validated during its pause; a failed check moves all traffic back at once. HAProxy and ALB weight the two colors; a DigitalOcean Load Balancer has no weights and moves all at once. `mode: rollback` always moves all at once.',
  },
  'step-pause': {
    section: 'Progressive switch and validation',
    default: '60',
    description: 'Seconds each step below 100% is held and validated before the next.',
  },
  'sticky-split-seconds': {
    section: 'Progressive switch and validation',
    default: '3600',
    description:
      "Seconds a client stays on the color it was first sent to during the steps of a progressive switch (`traffic-steps`), so a page and its assets come from one release. On ALB: target-group stickiness on the weighted forward during the steps (at most 604800; 0 turns it off), and the listener's own stickiness put back at the last step or a move back. HAProxy keeps a client on its color with its `bg_color` cookie until the split ends, whatever this says.",
  },
  'validation-requests': {
    section: 'Progressive switch and validation',
    default: '20',
    description: 'Requests sent to `public-url` (at `validation-path`) per validation round, during each pause and once after the last step.',
  },
  'validation-path': {
    section: 'Progressive switch and validation',
    default: '',
    description:
      'Path the validation requests ask for through `public-url`: a real page (`/`, `/api/status`) catches errors a health path would not. Default: `health-path`.',
  },
  'validation-success-percent': {
    section: 'Progressive switch and validation',
    default: '99',
    description: 'Share of validation requests (percent) that must answer `health-expected-status`; fewer fails the check and moves traffic back.',
  },
  'validation-max-latency': {
    section: 'Progressive switch and validation',
    default: '2',
    description: 'Seconds: the 95th percentile latency of validation requests must stay under it.',
  },
  'rollback-window': {
    section: 'Progressive switch and validation',
    default: '3600',
    description:
      'Seconds after a successful switch during which the old color is kept at full size (never scaled down), so that `mode: rollback` is a single traffic move. `scale-down-delay` never scales down earlier than this.',
  },
  'before-release': {
    section: 'Hooks',
    default: '',
    description:
      'Command run before the release phase. Prefix `hosts:` to run it on each host of the target color (in the app directory), or `runner:` (the default) to run it once on the runner. It sees BLUEGREEN_APP, BLUEGREEN_RELEASE, BLUEGREEN_COLOR (target) and BLUEGREEN_LIVE_COLOR. A failure fails the run before anything else changes.',
  },
  'after-release': {
    section: 'Hooks',
    default: '',
    description: 'Command run after the release phase, before health checks, as `before-release`.',
  },
  'before-switch': {
    section: 'Hooks',
    default: '',
    description:
      'Command run before traffic moves (`mode: switch`), as `before-release`: for example a backward-compatible (expanding) database migration. A failure leaves traffic where it was.',
  },
  'after-switch': {
    section: 'Hooks',
    default: '',
    description: 'Command run after a switch was validated, as `before-release`: for example the contracting migration.',
  },
  'digitalocean-token': {
    section: 'DigitalOcean',
    secret: true,
    default: '',
    description: 'DigitalOcean API token (read for Droplets; write for a load balancer). Pass it from a secret.',
  },
  'digitalocean-api-url': {
    section: 'DigitalOcean',
    default: 'https://api.digitalocean.com',
    description: 'DigitalOcean API base URL, for proxies and tests (as `doctl --api-url`).',
  },
  'blue-tag': {
    section: 'DigitalOcean',
    default: 'env:blue',
    description: 'Tag on the Droplets of the blue color.',
  },
  'green-tag': {
    section: 'DigitalOcean',
    default: 'env:green',
    description: 'Tag on the Droplets of the green color.',
  },
  'droplet-address': {
    section: 'DigitalOcean',
    default: 'private',
    description: 'Which Droplet address the action connects to: `private` (VPC) or `public`.',
  },
  'do-load-balancer-id': {
    section: 'DigitalOcean',
    default: '',
    description: 'Id of the DigitalOcean Load Balancer to switch, with `traffic: do-lb`.',
  },
  'aws-region': {
    section: 'AWS',
    default: '',
    description: 'AWS region. Default: `AWS_REGION` / `AWS_DEFAULT_REGION` from the environment.',
  },
  'listener-arn': {
    section: 'AWS',
    default: '',
    description: 'ARN of the ALB listener whose default action forwards to the live target group.',
  },
  'rule-arn': {
    section: 'AWS',
    default: '',
    description: 'ARN of a listener rule to switch instead of the default action.',
  },
  'test-listener-arn': {
    section: 'AWS',
    default: '',
    description: 'ARN of a test listener that forwards to the idle color (the preview route).',
  },
  'blue-target-group': {
    section: 'AWS',
    default: '',
    description: 'Target group of the blue color: name or ARN.',
  },
  'green-target-group': {
    section: 'AWS',
    default: '',
    description: 'Target group of the green color: name or ARN.',
  },
  'blue-asg': {
    section: 'AWS',
    default: '',
    description: 'Auto Scaling Group of the blue color.',
  },
  'green-asg': {
    section: 'AWS',
    default: '',
    description: 'Auto Scaling Group of the green color.',
  },
  'scale-down-delay': {
    section: 'AWS',
    default: '',
    description: 'Seconds after a successful switch before the old color is scaled down. Default: never scale down.',
  },
  'release-bucket': {
    section: 'AWS',
    default: '',
    description:
      'S3 bucket that ships the release to the instances: the runner uploads `release-path` as one tarball (once per content: an object with the same SHA-256 is not uploaded again), and each instance downloads it with `curl` or `wget` through a presigned URL that expires with the release, and checks its SHA-256. The instances need no AWS CLI and no S3 permission. Without it, instances fetch `release-repository` with git.',
  },
  'release-prefix': {
    section: 'AWS',
    default: '',
    description: 'Key prefix for the tarballs in `release-bucket`, for example `releases/`. Keys are `<prefix><app-name>/<release>/<sha256>.tar.gz`.',
  },
  'cloudwatch-alarms': {
    section: 'AWS',
    default: '',
    description: 'CloudWatch alarm names watched during validation, one per line or comma-separated: any in ALARM moves traffic back.',
  },
  'github-token': {
    section: 'State and GitHub',
    secret: true,
    default: '${{ github.token }}',
    description:
      'Token for the state variable, the deploy lock and GitHub deployments. The default `GITHUB_TOKEN` cannot read or write repository variables: pass a fine-grained token or GitHub App token with **Variables: read and write** (and **Deployments: read and write** for `github-deployment`). Without that permission the run warns and goes on with the load balancer as the only truth, without resume or lock.',
  },
  'state-variable': {
    section: 'State and GitHub',
    default: '',
    description:
      'Repository variable that records the live color, the release on each color, the last phase reached and recent switches, so a rerun resumes. The deploy lock is this name with `_LOCK`. Default: `BLUEGREEN_<APP_NAME>` (upper-cased, `-` as `_`: `shop-api` keeps `BLUEGREEN_SHOP_API`).',
  },
  'strict-state': {
    section: 'State and GitHub',
    default: 'false',
    description: 'Fail before changing anything when the state variable or the lock cannot be read and written, instead of warning and going on without them.',
  },
  'lock-timeout': {
    section: 'State and GitHub',
    default: '300',
    description: 'Seconds to wait for another run of the same app to release the deploy lock before failing with who holds it. `0`: do not wait.',
  },
  'lock-expiry': {
    section: 'State and GitHub',
    default: '3600',
    description: 'Seconds after which a lock whose run stopped renewing it (a cancelled or crashed run) is taken over. The holder renews it after every phase.',
  },
  'github-deployment': {
    section: 'State and GitHub',
    default: 'false',
    description:
      'Record each switch and rollback as a GitHub deployment of `deployment-environment` (the release live on the target color and its commit), with statuses (in progress, success or failure; earlier ones marked inactive), so the environment page shows what is live. Not in a job whose `environment:` records one already: there, use `environment: {name: …, deployment: false}`. `github-token` needs **Deployments: read and write** (with the default token: `permissions: deployments: write`).',
  },
  'deployment-environment': {
    section: 'State and GitHub',
    default: 'production',
    description: 'GitHub environment the deployments are recorded for, with `github-deployment: true`.',
  },
  'environment-url': {
    section: 'State and GitHub',
    default: '',
    description: 'URL shown on the environment page for the live app. Default: `public-url`.',
  },
} as const satisfies Record<string, InputSpec>;

export type InputName = keyof typeof INPUTS;

/**
 * Inputs renamed since v1: a workflow that still passes the old name fails at once, naming the new
 * one (the runner passes an unknown `with:` key on as `INPUT_<NAME>` after only a warning, so it
 * would otherwise be ignored without a word). The old names shadowed workflow keywords.
 */
export const RENAMED_INPUTS: Readonly<Record<string, InputName>> = {
  concurrency: 'max-parallel-hosts',
  environment: 'deployment-environment',
};

export const OUTPUTS = {
  'live-color': { description: 'Color serving traffic when the run ended (`blue`, `green`, or `unknown`).' },
  'previous-color': { description: 'Color that served traffic when the run started.' },
  'target-color': { description: 'Color this run released to or moved traffic to.' },
  release: {
    description:
      'Release now on the target color: the one deployed (deploy), or the one the state records there (switch, rollback); empty for a rollback when state is off.',
  },
  'preview-url': { description: 'URL that reaches the idle color without touching live traffic, when there is one.' },
  result: { description: '`success`, `failure`, `planned` for a dry run, or `cancelled` (the job was cancelled; the summary says where traffic is).' },
} as const satisfies Record<string, { description: string }>;

export type OutputName = keyof typeof OUTPUTS;

export function inputSpec(name: InputName): InputSpec {
  return INPUTS[name];
}
