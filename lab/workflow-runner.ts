import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { parseOutputFile } from './runner-files.js';

/**
 * Runs a workflow file job by job, as a GitHub runner would, for the examples test: `needs:` order,
 * `environment:` recorded, `${{ }}` expressions resolved from a fixture table (secrets, vars,
 * workflow_dispatch inputs, `needs.*.outputs`, `steps.*.outputs`, env), `actions/checkout` filling
 * the job's empty workspace, and the action under test run as its committed bundle (`node
 * dist/index.js`) with `INPUT_*` variables and the runner's command files. It is strict where
 * GitHub would be lenient, so an example cannot pass by accident: an unknown step, `uses:`, key or
 * expression, a secret the fixture table lacks, or an input the action does not declare throws a
 * WorkflowError (a broken example), while a step that fails is a failed job (a broken run).
 */

export class WorkflowError extends Error {}

type Yaml = Record<string, unknown>;

export interface JobEnvironment {
  name: string;
  url?: string;
  /** false for `deployment: false`: GitHub then creates no deployment for the job. */
  deployment: boolean;
}

export interface StepRun {
  title: string;
  status: 'success' | 'failure' | 'skipped';
  /** The inputs the action's bundle got (the action step), after `adapt`. */
  inputs?: Record<string, string>;
  outputs: Record<string, string>;
  summary: string;
  /** stdout and stderr of the bundle. */
  log: string;
  exitCode?: number | null;
}

export interface JobRun {
  id: string;
  environment?: JobEnvironment;
  status: 'success' | 'failure' | 'skipped';
  steps: StepRun[];
  outputs: Record<string, string>;
}

/** What a run of a workflow is given: the values GitHub would have, and how the local world differs from the example's site. */
export interface WorkflowFixture {
  secrets: Record<string, string>;
  vars?: Record<string, string>;
  /** Inputs of a `workflow_dispatch` run; missing ones take the workflow's defaults. */
  inputs?: Record<string, string>;
  github: { repository: string; sha: string; ref: string; token: string; runId: string; apiUrl: string; serverUrl: string; eventName: string };
  /** What `actions/checkout` puts in the job's workspace. */
  checkoutSource: string;
  /** The action under test: how the examples name it, and the directory with its action.yml and bundle. */
  action: { uses: string; dir: string };
  /**
   * The example's inputs as the local world needs them (its addresses, paths, ports): returns the
   * inputs the bundle gets. The test checks what it changed.
   */
  adapt?: (inputs: Record<string, string>, job: string) => Record<string, string>;
  /** Environment every step sees beyond the runner's own (an API stub's address, say). */
  env?: Record<string, string>;
  /** Called before each job runs. */
  beforeJob?: (job: string) => void | Promise<void>;
  /** Run only these jobs; the outputs of the jobs they need then come from `needs`. */
  only?: string[];
  needs?: Record<string, Record<string, string>>;
  stepTimeoutMs?: number;
}

/** The actions the examples may use besides the one under test, at their current major versions. */
const KNOWN_ACTIONS: Record<string, { inputs: string[]; run: (step: StepContext) => void }> = {
  'actions/checkout@v6': { inputs: ['ref', 'fetch-depth', 'persist-credentials'], run: checkout },
  'aws-actions/configure-aws-credentials@v6': {
    inputs: [
      'role-to-assume',
      'aws-region',
      'role-session-name',
      'role-duration-seconds',
      'aws-access-key-id',
      'aws-secret-access-key',
      'aws-session-token',
      'mask-aws-account-id',
    ],
    run: configureAwsCredentials,
  },
};

const WORKFLOW_KEYS = ['name', 'on', 'concurrency', 'permissions', 'env', 'jobs', 'run-name', 'defaults'];
const JOB_KEYS = ['name', 'runs-on', 'needs', 'environment', 'steps', 'outputs', 'env', 'permissions', 'timeout-minutes', 'concurrency'];
const STEP_KEYS = ['id', 'name', 'uses', 'with', 'env'];

interface StepContext {
  with: Record<string, string>;
  workspace: string;
  /** The job's environment for later steps (what an action writes to GITHUB_ENV). */
  jobEnv: Record<string, string>;
  permissions: Record<string, string>;
  fixture: WorkflowFixture;
}

/** actions/checkout: the job's workspace starts empty; this fills it with the repository (the example app). */
function checkout(step: StepContext): void {
  cpSync(step.fixture.checkoutSource, step.workspace, { recursive: true });
}

/**
 * aws-actions/configure-aws-credentials, minimally: it exports a region and (fake) temporary
 * credentials to later steps, as the real one does after assuming the role. Assuming a role without
 * stored keys goes through GitHub's OIDC token, which needs `id-token: write`.
 */
function configureAwsCredentials(step: StepContext): void {
  const region = step.with['aws-region'];
  if (!region) throw new WorkflowError('aws-actions/configure-aws-credentials: aws-region is not set');
  const keys = step.with['aws-access-key-id'] && step.with['aws-secret-access-key'];
  if (!keys && !step.with['role-to-assume']) throw new WorkflowError('aws-actions/configure-aws-credentials: neither role-to-assume nor access keys are set');
  if (!keys && step.permissions['id-token'] !== 'write')
    throw new WorkflowError('aws-actions/configure-aws-credentials: assuming a role through OIDC needs `permissions: id-token: write`');
  Object.assign(step.jobEnv, {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
    AWS_SECRET_ACCESS_KEY: 'example/secret/access/key/of/the/assumed/role0',
    AWS_SESSION_TOKEN: 'example-session-token',
  });
}

const asRecord = (value: unknown, what: string): Yaml => {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new WorkflowError(`${what} is not a mapping`);
  return value as Yaml;
};

const asText = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

function checkKeys(node: Yaml, allowed: string[], what: string): void {
  const unknown = Object.keys(node).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new WorkflowError(`${what}: the runner does not model ${unknown.map((key) => `\`${key}\``).join(', ')}`);
}

/** Job ids in an order that respects `needs:`. */
export function jobOrder(jobs: Yaml): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (id: string, from?: string) => {
    if (order.includes(id)) return;
    if (!(id in jobs)) throw new WorkflowError(`job ${from} needs ${id}, which does not exist`);
    if (visiting.has(id)) throw new WorkflowError(`jobs ${id} and ${from} need each other`);
    visiting.add(id);
    for (const need of needsOf(asRecord(jobs[id], `job ${id}`))) visit(need, id);
    order.push(id);
  };
  for (const id of Object.keys(jobs)) visit(id);
  return order;
}

const needsOf = (job: Yaml): string[] => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs.map(String) : [String(job.needs)]);

/** The permissions a job gets: its own `permissions:`, else the workflow's. */
function permissionsOf(workflow: Yaml, job: Yaml): Record<string, string> {
  const given = job.permissions ?? workflow.permissions;
  return Object.fromEntries(Object.entries(asRecord(given, 'permissions')).map(([k, v]) => [k, asText(v)]));
}

interface ExpressionScope {
  fixture: WorkflowFixture;
  dispatchInputs: Yaml;
  env: Record<string, string>;
  needs: Record<string, Record<string, string>>;
  steps: Record<string, Record<string, string>>;
}

/** Resolves every `${{ context.path }}` in `text`; anything else is an expression the runner does not know. */
export function evaluate(text: string, scope: ExpressionScope): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_m, expression: string) => lookup(expression, scope));
}

function lookup(expression: string, scope: ExpressionScope): string {
  if (!/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)+$/.test(expression)) throw new WorkflowError(`the runner does not evaluate \`\${{ ${expression} }}\``);
  const [context, ...path] = expression.split('.') as [string, ...string[]];
  const { fixture } = scope;
  const from = (table: Record<string, string> | undefined, name: string, what: string): string => {
    const value = table?.[name];
    if (value === undefined) throw new WorkflowError(`\`\${{ ${expression} }}\`: the fixture table has no ${what} ${name}`);
    return value;
  };
  const [first = '', second, third] = path;
  switch (context) {
    case 'secrets':
      return from(fixture.secrets, first, 'secret');
    case 'vars':
      return from(fixture.vars, first, 'variable');
    case 'inputs': {
      const declared = asRecord(scope.dispatchInputs[first], `input ${first}`);
      if (!(first in scope.dispatchInputs)) throw new WorkflowError(`\`\${{ ${expression} }}\`: the workflow declares no input ${first}`);
      return fixture.inputs?.[first] ?? asText(declared.default);
    }
    case 'env':
      return from(scope.env, first, 'env variable');
    case 'github': {
      const github: Record<string, string> = {
        repository: fixture.github.repository,
        repository_owner: fixture.github.repository.split('/')[0] ?? '',
        sha: fixture.github.sha,
        ref: fixture.github.ref,
        token: fixture.github.token,
        run_id: fixture.github.runId,
        server_url: fixture.github.serverUrl,
        api_url: fixture.github.apiUrl,
        event_name: fixture.github.eventName,
      };
      return from(github, first, 'github context value');
    }
    case 'needs':
    case 'steps': {
      if (second !== 'outputs' || !third) throw new WorkflowError(`the runner does not evaluate \`\${{ ${expression} }}\``);
      const table = context === 'needs' ? scope.needs : scope.steps;
      const outputs = table[first];
      if (!outputs)
        throw new WorkflowError(`\`\${{ ${expression} }}\`: ${context === 'needs' ? `the job does not need ${first}` : `no earlier step has id ${first}`}`);
      return outputs[third] ?? '';
    }
    default:
      throw new WorkflowError(`the runner does not know the context of \`\${{ ${expression} }}\``);
  }
}

function evaluateAll(node: unknown, scope: ExpressionScope, what: string): Record<string, string> {
  return Object.fromEntries(Object.entries(asRecord(node, what)).map(([key, value]) => [key, evaluate(asText(value), scope)]));
}

/** The action's declared inputs and their defaults, and its entry points, from its action.yml. */
function readAction(dir: string): { inputs: Record<string, { default?: string }>; main: string; post?: string } {
  const yml = asRecord(load(readFileSync(join(dir, 'action.yml'), 'utf8')), 'action.yml');
  const runs = asRecord(yml.runs, 'action.yml runs');
  const inputs = Object.fromEntries(
    Object.entries(asRecord(yml.inputs, 'action.yml inputs')).map(([name, spec]) => [
      name,
      { default: asRecord(spec, name).default === undefined ? undefined : asText(asRecord(spec, name).default) },
    ]),
  );
  return { inputs, main: asText(runs.main), ...(runs.post !== undefined && { post: asText(runs.post) }) };
}

/** Runs `workflowText` job by job. Throws WorkflowError when the workflow is one the runner (or GitHub) would not run. */
export async function runWorkflow(workflowText: string, fixture: WorkflowFixture): Promise<JobRun[]> {
  const workflow = asRecord(load(workflowText), 'the workflow');
  checkKeys(workflow, WORKFLOW_KEYS, 'the workflow');
  const on = asRecord(workflow.on, 'on');
  const dispatchInputs = asRecord(asRecord(on.workflow_dispatch, 'workflow_dispatch').inputs, 'workflow_dispatch inputs');
  const jobs = asRecord(workflow.jobs, 'jobs');
  const action = readAction(fixture.action.dir);
  const runs: JobRun[] = [];
  for (const id of jobOrder(jobs)) {
    const job = asRecord(jobs[id], `job ${id}`);
    checkKeys(job, JOB_KEYS, `job ${id}`);
    if (fixture.only && !fixture.only.includes(id)) continue;
    const needed = needsOf(job).map((need): [string, JobRun] => {
      const ran = runs.find((run) => run.id === need);
      if (ran) return [need, ran];
      const outputs = fixture.needs?.[need];
      if (!outputs) throw new WorkflowError(`job ${id} needs ${need}, which did not run: give its outputs in the fixture table`);
      return [need, { id: need, status: 'success', steps: [], outputs }];
    });
    if (needed.some(([, run]) => run.status !== 'success')) {
      runs.push({ id, status: 'skipped', steps: [], outputs: {} });
      continue;
    }
    await fixture.beforeJob?.(id);
    runs.push(
      await runJob(id, job, { workflow, fixture, dispatchInputs, action, needs: Object.fromEntries(needed.map(([need, run]) => [need, run.outputs])) }),
    );
  }
  return runs;
}

interface JobSetting {
  workflow: Yaml;
  fixture: WorkflowFixture;
  dispatchInputs: Yaml;
  action: ReturnType<typeof readAction>;
  needs: Record<string, Record<string, string>>;
}

async function runJob(id: string, job: Yaml, { workflow, fixture, dispatchInputs, action, needs }: JobSetting): Promise<JobRun> {
  const dir = mkdtempSync(join(tmpdir(), `bgp-job-${id}-`));
  const workspace = join(dir, 'workspace');
  mkdirSync(workspace);
  try {
    const scope: ExpressionScope = { fixture, dispatchInputs, env: {}, needs, steps: {} };
    scope.env = { ...evaluateAll(workflow.env, scope, 'env') };
    Object.assign(scope.env, evaluateAll(job.env, scope, `job ${id} env`));
    const environment = environmentOf(job.environment, scope, id);
    const permissions = permissionsOf(workflow, job);
    const steps: StepRun[] = [];
    const posts: (() => Promise<StepRun>)[] = [];
    let failed = false;
    const stepList = job.steps;
    if (!Array.isArray(stepList) || stepList.length === 0) throw new WorkflowError(`job ${id} has no steps`);
    for (const [index, raw] of stepList.entries()) {
      const step = asRecord(raw, `job ${id} step ${index + 1}`);
      checkKeys(step, STEP_KEYS, `job ${id} step ${index + 1}`);
      const uses = asText(step.uses);
      const title = asText(step.name) || uses || `step ${index + 1}`;
      if (!uses) throw new WorkflowError(`job ${id} step ${index + 1}: only \`uses:\` steps are modelled`);
      if (uses !== fixture.action.uses && !KNOWN_ACTIONS[uses])
        throw new WorkflowError(`job ${id} step ${index + 1}: the runner does not know \`uses: ${uses}\``);
      if (failed) {
        steps.push({ title, status: 'skipped', outputs: {}, summary: '', log: '' });
        continue;
      }
      const stepScope = { ...scope, env: { ...scope.env } };
      Object.assign(stepScope.env, evaluateAll(step.env, stepScope, `job ${id} step ${index + 1} env`));
      const withInputs = evaluateAll(step.with, stepScope, `job ${id} step ${index + 1} with`);
      const known = KNOWN_ACTIONS[uses];
      if (known) {
        const unknown = Object.keys(withInputs).filter((key) => !known.inputs.includes(key));
        if (unknown.length > 0) throw new WorkflowError(`job ${id}: ${uses} has no input ${unknown.join(', ')}`);
        known.run({ with: withInputs, workspace, jobEnv: scope.env, permissions, fixture });
        steps.push({ title, status: 'success', outputs: {}, summary: '', log: '' });
        continue;
      }
      const run = await runActionStep(id, withInputs, { dir, workspace, env: stepScope.env, fixture, action, scope: stepScope }, title);
      steps.push(run.step);
      if (step.id !== undefined) scope.steps[asText(step.id)] = run.step.outputs;
      Object.assign(scope.env, run.exportedEnv);
      if (run.post) posts.unshift(run.post);
      failed = run.step.status === 'failure';
    }
    // Post steps run at the end of the job, the last one first, whatever happened before.
    for (const post of posts) {
      const run = await post();
      steps.push(run);
      failed ||= run.status === 'failure';
    }
    const outputs = failed ? {} : evaluateAll(job.outputs, scope, `job ${id} outputs`);
    return { id, ...(environment && { environment }), status: failed ? 'failure' : 'success', steps, outputs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function environmentOf(node: unknown, scope: ExpressionScope, id: string): JobEnvironment | undefined {
  if (node === undefined) return undefined;
  if (typeof node === 'string') return { name: evaluate(node, scope), deployment: true };
  const spec = asRecord(node, `job ${id} environment`);
  checkKeys(spec, ['name', 'url', 'deployment'], `job ${id} environment`);
  const url = spec.url === undefined ? undefined : evaluate(asText(spec.url), scope);
  return { name: evaluate(asText(spec.name), scope), ...(url && { url }), deployment: spec.deployment !== false };
}

interface ActionStepSetting {
  dir: string;
  workspace: string;
  env: Record<string, string>;
  fixture: WorkflowFixture;
  action: ReturnType<typeof readAction>;
  scope: ExpressionScope;
}

/** The action under test: its bundle, spawned with the step's inputs (and the action's defaults), as a runner does. */
async function runActionStep(
  job: string,
  withInputs: Record<string, string>,
  { dir, workspace, env, fixture, action, scope }: ActionStepSetting,
  title: string,
): Promise<{ step: StepRun; exportedEnv: Record<string, string>; post?: () => Promise<StepRun> }> {
  const undeclared = Object.keys(withInputs).filter((key) => !(key in action.inputs));
  if (undeclared.length > 0) throw new WorkflowError(`job ${job}: ${fixture.action.uses} has no input ${undeclared.join(', ')}`);
  const given: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) {
    const value = withInputs[name] ?? (spec.default === undefined ? undefined : evaluate(spec.default, scope));
    if (value !== undefined) given[name] = value;
  }
  const inputs = fixture.adapt ? fixture.adapt(given, job) : given;
  const files = { summary: join(dir, 'summary.md'), output: join(dir, 'output.txt'), state: join(dir, 'state.txt'), env: join(dir, 'env.txt') };
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: fixture.github.sha,
    GITHUB_REF: fixture.github.ref,
    GITHUB_REPOSITORY: fixture.github.repository,
    GITHUB_REPOSITORY_OWNER: fixture.github.repository.split('/')[0],
    GITHUB_RUN_ID: fixture.github.runId,
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: job,
    GITHUB_EVENT_NAME: fixture.github.eventName,
    GITHUB_API_URL: fixture.github.apiUrl,
    GITHUB_SERVER_URL: fixture.github.serverUrl,
    GITHUB_WORKSPACE: workspace,
    GITHUB_ACTION_PATH: fixture.action.dir,
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: dir,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_ENV: files.env,
    ...env,
    ...fixture.env,
  };
  for (const [name, value] of Object.entries(inputs)) base[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  const step = await spawnStep(join(fixture.action.dir, action.main), base, workspace, files, title, fixture.stepTimeoutMs);
  step.inputs = inputs;
  const state = existsSync(files.state) ? parseOutputFile(readFileSync(files.state, 'utf8')) : {};
  const exportedEnv = existsSync(files.env) ? parseOutputFile(readFileSync(files.env, 'utf8')) : {};
  const post = action.post
    ? () => {
        const postEnv: NodeJS.ProcessEnv = { ...base };
        for (const [name, value] of Object.entries(state)) postEnv[`STATE_${name}`] = value;
        return spawnStep(join(fixture.action.dir, action.post ?? ''), postEnv, workspace, files, `Post ${title}`, fixture.stepTimeoutMs);
      }
    : undefined;
  return { step, exportedEnv, ...(post && { post }) };
}

async function spawnStep(
  script: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  files: { summary: string; output: string; state: string; env: string },
  title: string,
  timeoutMs = 600_000,
): Promise<StepRun> {
  for (const file of Object.values(files)) writeFileSync(file, '');
  const child = spawn(process.execPath, [script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(timer);
  return {
    title,
    status: exitCode === 0 ? 'success' : 'failure',
    outputs: parseOutputFile(readFileSync(files.output, 'utf8')),
    summary: readFileSync(files.summary, 'utf8'),
    log: Buffer.concat(chunks).toString(),
    exitCode,
  };
}
