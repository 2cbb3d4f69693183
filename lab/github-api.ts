import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { JsonDoubleServer, sendJson as send, type JsonRequest } from './json-double.js';
import { OpenApiContract } from './openapi.js';

let contract: OpenApiContract | undefined;
/** GitHub's own REST API description (from @octokit/openapi): every request the double gets is checked against it. */
export function gitHubContract(): OpenApiContract {
  const specPath = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  contract ??= new OpenApiContract(JSON.parse(readFileSync(specPath, 'utf8')) as Record<string, unknown>);
  return contract;
}

export type Access = 'none' | 'read' | 'write';
/** What a token may do, as the fine-grained permissions "Variables" and "Deployments" say. */
export interface TokenPermissions {
  variables: Access;
  deployments: Access;
}

interface Variable {
  name: string;
  value: string;
  created_at: string;
  updated_at: string;
}

export interface Deployment {
  id: number;
  ref: string;
  environment: string;
  description: string | null;
  payload: unknown;
  statuses: { state: string; description?: string; environment_url?: string; log_url?: string }[];
}

const DOCS = 'https://docs.github.com/rest';

/**
 * A stateful stand-in for the GitHub REST API on loopback, for one repository: repository variables
 * (names case-insensitive, a create of an existing name refused with 409, as GitHub does) and
 * deployments with statuses (listed newest first, as GitHub lists them). Tokens carry permissions; a token without one gets GitHub's 403 with
 * the `x-accepted-github-permissions` header. Requests that break GitHub's API description are
 * refused with 422 and recorded in `violations`, which every test expects to stay empty.
 */
export class GitHubApiDouble {
  readonly owner = 'acme';
  readonly repo = 'shop';
  readonly tokens = new Map<string, TokenPermissions>([
    ['github_pat_full', { variables: 'write', deployments: 'write' }],
    ['github_pat_read_only', { variables: 'read', deployments: 'none' }],
    // What the default GITHUB_TOKEN can have: no variables permission exists for it.
    ['ghs_default_token', { variables: 'none', deployments: 'write' }],
  ]);
  readonly variables = new Map<string, Variable>();
  readonly deployments: Deployment[] = [];
  readonly violations: string[] = [];
  readonly requests: { method: string; path: string; body?: unknown }[] = [];
  /** Called before each request is answered: lets a test act as a concurrent writer at an exact moment. */
  beforeEach?: (request: { method: string; path: string; body?: unknown }) => void | Promise<void>;
  /** Outages to answer with: each matching request takes one and gets its status (GitHub's 502/503 pages) instead of an answer. */
  readonly outages: { status: number; matches: (request: { method: string; path: string }) => boolean; remaining: number }[] = [];
  private readonly http = new JsonDoubleServer(
    (request, res) => this.handle(request, res),
    { badJson: { message: 'Problems parsing JSON', documentation_url: DOCS }, crash: { message: 'Server Error' } },
    this.violations,
  );
  private nextDeploymentId = 1000;

  /** The variable's value parsed as JSON, or undefined. */
  json(name: string): Record<string, unknown> | undefined {
    const variable = this.variables.get(name.toUpperCase());
    return variable ? (JSON.parse(variable.value) as Record<string, unknown>) : undefined;
  }

  /** The next `count` requests that `matches` accepts fail with `status`, as GitHub does in an outage. */
  failNext(count: number, status: number, matches: (request: { method: string; path: string }) => boolean = () => true): void {
    this.outages.push({ status, matches, remaining: count });
  }

  setVariable(name: string, value: string): void {
    const at = new Date().toISOString();
    const existing = this.variables.get(name.toUpperCase());
    this.variables.set(name.toUpperCase(), { name: name.toUpperCase(), value, created_at: existing?.created_at ?? at, updated_at: at });
  }

  async start(host = '127.0.3.1'): Promise<string> {
    return this.http.start(host);
  }

  async stop(): Promise<void> {
    await this.http.stop();
  }

  private async handle({ method, url, body, headers }: JsonRequest, res: ServerResponse): Promise<void> {
    const request = { method, path: url.pathname, ...(body !== undefined && { body }) };
    this.requests.push(request);
    await this.beforeEach?.(request);
    const outage = this.outages.find((o) => o.remaining > 0 && o.matches(request));
    if (outage) {
      outage.remaining--;
      return send(res, outage.status, { message: outage.status === 502 ? 'Server Error' : 'Service Unavailable' });
    }

    const problems = gitHubContract().check({ method, path: url.pathname, query: url.searchParams, headers, body });
    if (problems.length > 0) {
      this.violations.push(...problems);
      return send(res, 422, { message: 'Invalid request.', errors: problems, documentation_url: DOCS });
    }
    const token = /^(?:token|Bearer) (\S+)$/.exec(headers.authorization ?? '')?.[1] ?? '';
    const permissions = this.tokens.get(token);
    if (!permissions) return send(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });

    const base = `/repos/${this.owner}/${this.repo}`;
    if (!url.pathname.startsWith(`${base}/`)) return send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
    const rest = url.pathname.slice(base.length);
    const variables = /^\/actions\/variables(?:\/([^/]+))?$/.exec(rest);
    if (variables) {
      const needed: Access = method === 'GET' ? 'read' : 'write';
      if (!allows(permissions.variables, needed)) return forbidden(res, `variables=${needed}`);
      return this.variable(method, variables[1] ? decodeURIComponent(variables[1]) : undefined, body as Record<string, string> | undefined, res);
    }
    const deployments = /^\/deployments(?:\/(\d+)\/statuses)?$/.exec(rest);
    if (deployments && method === 'POST') {
      if (!allows(permissions.deployments, 'write')) return forbidden(res, 'deployments=write');
      return deployments[1]
        ? this.deploymentStatus(Number(deployments[1]), body as Record<string, string>, res)
        : this.createDeployment(body as Record<string, unknown>, res);
    }
    if (deployments && method === 'GET') {
      if (!allows(permissions.deployments, 'read')) return forbidden(res, 'deployments=read');
      const perPage = Number(url.searchParams.get('per_page') ?? 30);
      return deployments[1] ? this.listStatuses(Number(deployments[1]), perPage, res) : this.listDeployments(url.searchParams.get('environment'), perPage, res);
    }
    this.violations.push(`${method} ${url.pathname}: the double does not model this call`);
    return send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
  }

  private variable(method: string, name: string | undefined, body: Record<string, string> | undefined, res: ServerResponse): void {
    const key = name?.toUpperCase();
    const existing = key ? this.variables.get(key) : undefined;
    const notFound = () => send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
    if (method === 'POST' && !name && body) {
      const invalid = invalidName(body.name ?? '');
      if (invalid) return send(res, 422, { message: invalid, documentation_url: DOCS, status: '422' });
      if (this.variables.has(body.name?.toUpperCase() ?? '')) {
        return send(res, 409, { message: 'Already exists - Variable already exists', documentation_url: DOCS, status: '409' });
      }
      this.setVariable(body.name ?? '', body.value ?? '');
      return send(res, 201, {});
    }
    if (!key) return notFound();
    if (method === 'GET') return existing ? send(res, 200, existing) : notFound();
    if (method === 'PATCH') {
      if (!existing) return notFound();
      if (body?.value !== undefined) this.setVariable(existing.name, body.value);
      return send(res, 204);
    }
    if (method === 'DELETE') {
      if (!existing) return notFound();
      this.variables.delete(key);
      return send(res, 204);
    }
    return notFound();
  }

  private createDeployment(body: Record<string, unknown>, res: ServerResponse): void {
    const deployment: Deployment = {
      id: this.nextDeploymentId++,
      ref: String(body.ref),
      environment: String(body.environment ?? 'production'),
      description: (body.description as string | undefined) ?? null,
      payload: body.payload ?? {},
      statuses: [],
    };
    // GitHub waits for every commit status context and merges the default branch in unless told not to.
    if (body.required_contexts === undefined) return send(res, 409, { message: 'Conflict: Commit status checks failed for main.', documentation_url: DOCS });
    this.deployments.push(deployment);
    return send(res, 201, this.shown(deployment));
  }

  /** A deployment as the REST API shows it (the fields its description requires). */
  private shown(deployment: Deployment): Record<string, unknown> {
    const url = `https://api.github.com/repos/${this.owner}/${this.repo}/deployments/${deployment.id}`;
    const { statuses: _statuses, ...fields } = deployment;
    return {
      ...fields,
      node_id: `DE_${deployment.id}`,
      sha: deployment.ref,
      task: 'deploy',
      creator: null,
      statuses_url: `${url}/statuses`,
      repository_url: `https://api.github.com/repos/${this.owner}/${this.repo}`,
      url,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
    };
  }

  /** Newest first, as GitHub lists them; filtered by environment when one is given. */
  private listDeployments(environment: string | null, perPage: number, res: ServerResponse): void {
    const listed = this.deployments
      .filter((d) => environment === null || d.environment === environment)
      .reverse()
      .slice(0, perPage);
    return send(
      res,
      200,
      listed.map((d) => this.shown(d)),
    );
  }

  /** Newest first, as GitHub lists them. */
  private listStatuses(id: number, perPage: number, res: ServerResponse): void {
    const deployment = this.deployments.find((d) => d.id === id);
    if (!deployment) return send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
    const deploymentUrl = `https://api.github.com/repos/${this.owner}/${this.repo}/deployments/${id}`;
    const listed = deployment.statuses
      .map((status, i) => ({
        id: i + 1,
        node_id: `DES_${id}_${i + 1}`,
        creator: null,
        description: '',
        target_url: '',
        deployment_url: deploymentUrl,
        repository_url: `https://api.github.com/repos/${this.owner}/${this.repo}`,
        url: `${deploymentUrl}/statuses/${i + 1}`,
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
        ...status,
      }))
      .reverse()
      .slice(0, perPage);
    return send(res, 200, listed);
  }

  private deploymentStatus(id: number, body: Record<string, string>, res: ServerResponse): void {
    const deployment = this.deployments.find((d) => d.id === id);
    if (!deployment) return send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
    deployment.statuses.push({
      state: body.state ?? '',
      ...(body.description && { description: body.description }),
      ...(body.environment_url && { environment_url: body.environment_url }),
      ...(body.log_url && { log_url: body.log_url }),
    });
    return send(res, 201, { id: deployment.statuses.length, state: body.state });
  }
}

function allows(granted: Access, needed: Access): boolean {
  return granted === 'write' || (granted === 'read' && needed === 'read');
}

/** GitHub's rules for variable names. */
function invalidName(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'Variable name can only contain alphanumeric characters or underscores and must not start with a number.';
  if (/^GITHUB_/i.test(name)) return 'Variable name must not start with GITHUB_.';
  return undefined;
}

function forbidden(res: ServerResponse, permission: string): void {
  res.setHeader('x-accepted-github-permissions', permission);
  send(res, 403, { message: 'Resource not accessible by personal access token', documentation_url: DOCS, status: '403' });
}
