export const id = 945;
export const ids = [945];
export const modules = {

/***/ 201:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   Ak: () => (/* binding */ pollPolicy),
/* harmony export */   Bo: () => (/* binding */ closeClients),
/* harmony export */   D3: () => (/* binding */ SDK_MAX_ATTEMPTS),
/* harmony export */   Vl: () => (/* binding */ AwsCalls),
/* harmony export */   Z$: () => (/* binding */ DEFAULT_AWS_TIMING),
/* harmony export */   e7: () => (/* binding */ awsClients),
/* harmony export */   rw: () => (/* binding */ awsClientConfig)
/* harmony export */ });
/* unused harmony export AWS_HTTP_LIMITS */
/* harmony import */ var _aws_sdk_client_auto_scaling__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(8932);
/* harmony import */ var _aws_sdk_client_elastic_load_balancing_v2__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(586);
/* harmony import */ var _aws_sdk_client_ssm__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(4736);
/* harmony import */ var _retry_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(9809);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(9378);





/**
 * The SDK's own retries stay on, in `adaptive` mode: it spaces requests out client-side when the
 * service throttles, and retries a few times quickly. `AwsCalls` adds the longer waits on top, for
 * throttling that outlasts those few attempts (a busy account during a fleet-wide release).
 */
const SDK_MAX_ATTEMPTS = 3;
/**
 * The SDK's default HTTP handler has no connection timeout, and its request timeout only logs a
 * warning unless told to throw: an endpoint that stops answering (a dropped VPC endpoint, a
 * network partition) would hold the job until GitHub's 6-hour limit, holding the deploy lock. A
 * request that times out is retried like any network error, so a run gives up after
 * SDK_MAX_ATTEMPTS attempts times AwsCalls' retries. AWS's control-plane calls answer in well under
 * a second; 30 s leaves room for a slow region.
 */
const AWS_HTTP_LIMITS = { connectionTimeoutMs: 5000, requestTimeoutMs: 30_000 };
/** The configuration every AWS client of the action is built with. */
function awsClientConfig(region, limits = AWS_HTTP_LIMITS) {
    return {
        region,
        maxAttempts: SDK_MAX_ATTEMPTS,
        retryMode: 'adaptive',
        requestHandler: { connectionTimeout: limits.connectionTimeoutMs, requestTimeout: limits.requestTimeoutMs, throwOnRequestTimeout: true },
    };
}
/**
 * Clients for `settings.region` (the input, else `AWS_REGION` / `AWS_DEFAULT_REGION`, resolved by
 * the settings). No credentials are passed: the SDK's standard chain finds them, so the
 * environment that `aws-actions/configure-aws-credentials` (OIDC or keys) leaves behind just works.
 */
function awsClients(settings) {
    const config = awsClientConfig(settings.region);
    return {
        elb: new _aws_sdk_client_elastic_load_balancing_v2__WEBPACK_IMPORTED_MODULE_2__/* .ElasticLoadBalancingV2Client */ .MlD(config),
        autoScaling: new _aws_sdk_client_auto_scaling__WEBPACK_IMPORTED_MODULE_3__/* .AutoScalingClient */ .yis(config),
        ssm: new _aws_sdk_client_ssm__WEBPACK_IMPORTED_MODULE_4__/* .SSMClient */ .jBj(config),
    };
}
function closeClients(clients) {
    clients.elb.destroy();
    clients.autoScaling.destroy();
    clients.ssm.destroy();
}
const DEFAULT_AWS_TIMING = {
    retry: { retries: 5, initialDelayMs: 1000, maxDelayMs: 20_000 },
    pollMs: 2000,
    maxPollMs: 15_000,
    capacityTimeoutMs: 15 * 60_000,
    sleep: _retry_js__WEBPACK_IMPORTED_MODULE_0__/* .sleep */ .yy,
};
/**
 * How the AWS parts poll, for `waitUntil`: every `pollMs`, doubling up to `maxPollMs`, on a clock
 * that counts the time slept through `timing.sleep` (so a limit is the time the polls waited).
 */
function pollPolicy(timing) {
    return { intervalMs: timing.pollMs, backoff: { maxMs: timing.maxPollMs }, clock: (0,_retry_js__WEBPACK_IMPORTED_MODULE_0__/* .sleepingClock */ .gY)(timing.sleep) };
}
/**
 * Every AWS call goes through `call`: retried with backoff while AWS throttles or fails
 * transiently, and turned into one line naming the call (and for a denial, the permission to grant).
 */
class AwsCalls {
    timing;
    constructor(timing) {
        this.timing = timing;
    }
    /**
     * `action` is the IAM action of the call (`elasticloadbalancing:ModifyListener`: the name a denial
     * needs); `resource` what it acts on; `notFound` the fix when that resource does not exist.
     */
    async call(action, send, resource, notFound) {
        let attempts = 0;
        try {
            return await (0,_retry_js__WEBPACK_IMPORTED_MODULE_0__/* .retry */ .L5)(() => {
                attempts++;
                return send();
            }, { ...(0,_retry_js__WEBPACK_IMPORTED_MODULE_0__/* .retryBounds */ .Su)(this.timing.retry), retryable: _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .isRetryable */ .r3, clock: (0,_retry_js__WEBPACK_IMPORTED_MODULE_0__/* .sleepingClock */ .gY)(this.timing.sleep) });
        }
        catch (error) {
            throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .awsError */ .es)(action, error, { resource, notFound, attempts });
        }
    }
}


/***/ }),

/***/ 9378:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   es: () => (/* binding */ awsError),
/* harmony export */   r3: () => (/* binding */ isRetryable)
/* harmony export */ });
/* unused harmony export isThrottling */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(3916);

const shape = (error) => (typeof error === 'object' && error !== null ? error : {});
/** The codes AWS services use for "slow down" (query APIs say `Throttling`, JSON APIs `ThrottlingException`). */
const THROTTLING = new Set([
    'Throttling',
    'ThrottlingException',
    'ThrottledException',
    'RequestThrottled',
    'RequestThrottledException',
    'RequestLimitExceeded',
    'TooManyRequestsException',
    'SlowDown',
    'PriorRequestNotComplete',
]);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError']);
const BAD_CREDENTIALS = new Set([
    'ExpiredToken',
    'ExpiredTokenException',
    'InvalidClientTokenId',
    'UnrecognizedClientException',
    'SignatureDoesNotMatch',
    'IncompleteSignature',
]);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'TimeoutError']);
function isThrottling(error) {
    const { name, $metadata } = shape(error);
    return (name !== undefined && THROTTLING.has(name)) || $metadata?.httpStatusCode === 429;
}
/** Worth another attempt: throttling, a 5xx from AWS, or the network dropping the request. */
function isRetryable(error) {
    const { name, code, $metadata } = shape(error);
    const status = $metadata?.httpStatusCode ?? 0;
    return isThrottling(error) || status >= 500 || NETWORK.has(name ?? '') || NETWORK.has(code ?? '');
}
/**
 * One line for a failed AWS call: which call, on what, and what to do. A denial names the IAM
 * action to grant; missing or expired credentials point at the credentials step.
 */
function awsError(action, error, { resource, notFound, attempts = 1 } = {}) {
    const { name = 'Error', message = String(error) } = shape(error);
    const on = resource ? ` on ${resource}` : '';
    const said = (0,_errors_js__WEBPACK_IMPORTED_MODULE_0__/* .oneLine */ .TN)(message);
    if (notFound && /NotFound/.test(name))
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .UserError */ .yo(`${resource ?? 'The resource'} was not found by ${action} (${name}: ${said}). ${notFound}`);
    if (DENIED.has(name)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .UserError */ .yo(`AWS denied ${action}${on} (${name}: ${said}). Grant the role ${action} (see the IAM policy in the README).`);
    }
    if (name === 'CredentialsProviderError' || BAD_CREDENTIALS.has(name)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .UserError */ .yo(`AWS ${action}${on} failed: no valid AWS credentials (${name}: ${said}). Run aws-actions/configure-aws-credentials before this step, or check the role it assumes.`);
    }
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (isThrottling(error)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .UserError */ .yo(`AWS kept throttling ${action}${on}${tries} (${name}: ${said}). Re-run later, or ask AWS for a higher API rate limit.`);
    }
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .UserError */ .yo(`AWS ${action}${on} failed${tries}: ${name}: ${said}`);
}


/***/ }),

/***/ 8945:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  AwsParts: () => (/* binding */ AwsParts)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 15 modules
var core = __webpack_require__(4116);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-ssm/dist-cjs/index.js
var dist_cjs = __webpack_require__(4736);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(3916);
// EXTERNAL MODULE: ./src/aws/clients.ts
var clients = __webpack_require__(201);
// EXTERNAL MODULE: ./src/hosts/hooks.ts
var hooks = __webpack_require__(1647);
// EXTERNAL MODULE: ./src/retry.ts
var retry = __webpack_require__(9809);
// EXTERNAL MODULE: ./src/cancellation.ts
var cancellation = __webpack_require__(4632);
// EXTERNAL MODULE: ./src/hosts/command.ts
var command = __webpack_require__(7486);
// EXTERNAL MODULE: ./src/hosts/host-output.ts
var host_output = __webpack_require__(7235);
// EXTERNAL MODULE: ./src/log.ts
var log = __webpack_require__(5625);
// EXTERNAL MODULE: ./src/hosts/host-script.ts
var host_script = __webpack_require__(2753);
;// CONCATENATED MODULE: ./src/hosts/ssm.ts











/** SendCommand takes at most 50 instance ids. */
const SSM_BATCH = 50;
const FINISHED = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
/**
 * After a cancel, how often and how long the invocations are polled for their `Cancelled` status:
 * within the runner's wind-down, leaving a second of it to report and let go.
 */
const CANCELLED_POLL_MS = 250;
const CANCELLED_COLLECT_MS = cancellation/* WIND_DOWN_MS */.J - 1000;
/** Where instances get the release over SSM without an artifact: a git fetch (SSM carries no files). */
function ssmReleaseSource(settings) {
    const source = settings.hostRelease.source;
    if (source.kind === 'upload') {
        throw new errors/* InputError */.dz('release-repository', 'is empty, but provider aws releases through SSM Run Command, which cannot upload the release from the runner', 'Set release-bucket (the runner uploads release-path to S3 once), or release-repository (and release-ref) so each instance fetches the release with git');
    }
    return source;
}
/**
 * Releases to EC2 instances through SSM Run Command (`AWS-RunShellScript`): the same Perl host
 * script as over SSH, as one shell text (`hostScriptShellCommand`, quoted by `toShell`). Instances
 * the SSM agent does not report online fail before anything is sent; the rest get the command in
 * batches of 50 ids, and every invocation is polled, with backoff, until it finished.
 */
class SsmReleaser {
    client;
    calls;
    settings;
    timing;
    artifact;
    signal;
    constructor(client, calls, settings, timing, artifact, 
    /** Aborted when the run is cancelled: the commands still running are cancelled (CancelCommand). */
    signal) {
        this.client = client;
        this.calls = calls;
        this.settings = settings;
        this.timing = timing;
        this.artifact = artifact;
        this.signal = signal;
    }
    /**
     * How long an instance may run the command: host-timeout and the grace the host script may need
     * to put the previous release back (SSM `executionTimeout` ends the command after it).
     */
    get commandLimitMs() {
        const limitMs = (this.settings.hostRelease.timeouts.hostSeconds + (0,host_script/* hostScriptGraceSeconds */.bH)(this.settings)) * 1000;
        return Math.min(limitMs, this.timing.commandTimeoutMs ?? limitMs);
    }
    async release(hosts, release) {
        // A download URL must outlive the batch: an instance may start late (MaxConcurrency) and still report in time.
        const source = this.artifact ? await this.artifact.sourceFor(release, this.commandLimitMs + this.timing.maxPollMs) : ssmReleaseSource(this.settings);
        return this.runOn(hosts, (host) => (0,host_script/* hostScriptShellCommand */.b4)(this.settings, host, release, source), `release ${release}`, judgeHostScript);
    }
    /** A `hosts:` hook: the user's command, quoted by `toShell`, in the live release directory. */
    async runHook(hosts, hook, env) {
        const text = (0,command/* toShell */.aB)((0,hooks/* hostHookArgv */.w6)(hook, this.settings.hostRelease.appDir, env));
        return this.runOn(hosts, () => text, `${hook.point} hook`, judgeExitCode);
    }
    /**
     * Runs `textFor(host)` on every host that SSM reaches, as few SendCommands as the texts allow
     * (hosts with the same text share one, 50 ids at most), and collects each host's outcome.
     */
    async runOn(hosts, textFor, what, judge) {
        const { online, offline } = await this.reachable(hosts);
        const outcomes = offline.map(({ host, why }) => ({ host, ok: false, durationMs: 0, detail: `not reachable through SSM: ${why}` }));
        // With app-listen-address `host` each text differs: the script gets the address SSM reports.
        const byText = new Map();
        for (const { host, address } of online) {
            const text = textFor({ ...host, address });
            byText.set(text, [...(byText.get(text) ?? []), host]);
        }
        const batches = [...byText].flatMap(([text, group]) => chunks(group, SSM_BATCH).map((batch) => ({ text, batch })));
        const perCommand = Math.max(1, Math.floor(this.settings.hostRelease.concurrency / Math.max(1, batches.length)));
        const sent = [];
        for (const { text, batch } of batches) {
            // Cancelled between two SendCommands: the batches not sent yet stay as they are.
            if (this.signal?.aborted)
                outcomes.push(...batch.map((host) => ({ host, ok: false, durationMs: 0, detail: 'not started: the run was cancelled' })));
            else
                sent.push(await this.send(text, batch, what, perCommand));
        }
        outcomes.push(...(await this.collect(sent, judge)));
        const order = new Map(hosts.map((h, i) => [h.name, i]));
        return outcomes.sort((x, y) => (order.get(x.host.name) ?? 0) - (order.get(y.host.name) ?? 0));
    }
    /** Which hosts the SSM agent reports `Online`, with the address it reports (for app-listen-address `host`). */
    async reachable(hosts) {
        const seen = new Map();
        for (const batch of chunks(hosts, SSM_BATCH)) {
            let nextToken;
            do {
                const out = await this.calls.call('ssm:DescribeInstanceInformation', () => this.client.send(new dist_cjs/* DescribeInstanceInformationCommand */.MXw({
                    Filters: [{ Key: 'InstanceIds', Values: batch.map((h) => h.address) }],
                    MaxResults: 50,
                    NextToken: nextToken,
                })));
                for (const info of out.InstanceInformationList ?? [])
                    seen.set(info.InstanceId ?? '', { ping: info.PingStatus ?? 'unknown', ...(info.IPAddress && { ip: info.IPAddress }) });
                nextToken = out.NextToken;
            } while (nextToken);
        }
        const online = [];
        const offline = [];
        for (const host of hosts) {
            const info = seen.get(host.address);
            if (info?.ping === 'Online')
                online.push({ host, address: info.ip ?? host.address });
            else
                offline.push({
                    host,
                    why: info
                        ? `its SSM agent is ${info.ping}`
                        : 'not a managed instance (is the SSM agent running, and does its instance profile allow AmazonSSMManagedInstanceCore?)',
                });
        }
        return { online, offline };
    }
    async send(text, hosts, what, maxConcurrency) {
        const executionSeconds = Math.ceil(this.commandLimitMs / 1000);
        const out = await this.calls.call('ssm:SendCommand', () => this.client.send(new dist_cjs/* SendCommandCommand */.VWR({
            DocumentName: 'AWS-RunShellScript',
            InstanceIds: hosts.map((h) => h.address),
            Parameters: { commands: [text], executionTimeout: [String(executionSeconds)] },
            Comment: `bluegreen-perl ${this.settings.appName} ${what}`.slice(0, 100),
            MaxConcurrency: String(maxConcurrency),
            // Every instance runs and reports: a failure on one is that instance's story, not the batch's.
            MaxErrors: '100%',
        })));
        const commandId = out.Command?.CommandId;
        if (!commandId)
            throw new Error('SendCommand returned no command id');
        core/* info */.pq(`SSM command ${commandId}: ${what} on ${hosts.length} instance(s) (${hosts.map((h) => h.name).join(', ')})`);
        return { commandId, hosts, sentAt: Date.now() };
    }
    /**
     * Polls every command's invocations until each instance finished, or the command timeout passed.
     * A cancel of the run wakes the wait (even in the middle of a poll's backoff, up to maxPollMs),
     * cancels the commands still running at once, and then collects their `Cancelled` statuses with
     * short polls that fit in the runner's wind-down.
     */
    async collect(sent, judge) {
        const outcomes = [];
        const last = new Map();
        const pending = new Set(sent.flatMap((s) => s.hosts.map((h) => `${s.commandId} ${h.address}`)));
        if (pending.size === 0)
            return outcomes;
        const running = () => sent.filter((command) => command.hosts.some((h) => pending.has(`${command.commandId} ${h.address}`)));
        const poll = async () => {
            for (const command of running()) {
                for (const [instanceId, status] of await this.statuses(command.commandId)) {
                    const key = `${command.commandId} ${instanceId}`;
                    last.set(key, status);
                    const host = command.hosts.find((h) => h.address === instanceId);
                    if (!host || !pending.has(key) || !FINISHED.has(status))
                        continue;
                    pending.delete(key);
                    outcomes.push(await this.outcome(command, host, judge));
                }
            }
            return pending.size;
        };
        const finished = (left) => left === 0;
        // An invocation still Pending or InProgress past the command's own timeout will not report.
        let wait;
        try {
            wait = await (0,retry/* waitUntil */.a0)(poll, finished, {
                deadlineMs: this.commandLimitMs + this.timing.maxPollMs,
                ...(0,clients/* pollPolicy */.Ak)(this.timing),
                ...(this.signal && { signal: this.signal }),
            });
        }
        catch (error) {
            if (!(error instanceof retry/* WaitAbortedError */.Lc))
                throw error;
            await this.cancel(running());
            wait = await (0,retry/* waitUntil */.a0)(poll, finished, { deadlineMs: CANCELLED_COLLECT_MS, intervalMs: CANCELLED_POLL_MS, clock: (0,retry/* sleepingClock */.gY)(this.timing.sleep) });
        }
        if (wait.done)
            return outcomes;
        const waited = `${Math.round(wait.elapsedMs / 1000)}s`;
        for (const command of sent) {
            for (const host of command.hosts.filter((h) => pending.has(`${command.commandId} ${h.address}`))) {
                const status = last.get(`${command.commandId} ${host.address}`) ?? 'not listed yet';
                const detail = this.signal?.aborted
                    ? `SSM command ${command.commandId} was cancelled with the run; the instance had not reported it Cancelled ${waited} later (last status ${status})`
                    : `SSM command ${command.commandId} did not finish in ${waited} (last status ${status})`;
                outcomes.push({ host, ok: false, durationMs: Date.now() - command.sentAt, detail });
            }
        }
        return outcomes;
    }
    /** Cancels commands on every instance still running them; their invocations then report `Cancelled`. */
    async cancel(commands) {
        for (const { commandId } of commands) {
            core/* info */.pq(`The run was cancelled: cancelling SSM command ${commandId} on the instances still running it`);
            await this.calls.call('ssm:CancelCommand', () => this.client.send(new dist_cjs/* CancelCommandCommand */.tal({ CommandId: commandId })));
        }
    }
    async statuses(commandId) {
        const statuses = new Map();
        let nextToken;
        do {
            const out = await this.calls.call('ssm:ListCommandInvocations', () => this.client.send(new dist_cjs/* ListCommandInvocationsCommand */.mdT({ CommandId: commandId, MaxResults: 50, NextToken: nextToken })));
            for (const invocation of out.CommandInvocations ?? [])
                statuses.set(invocation.InstanceId ?? '', invocation.Status ?? 'Pending');
            nextToken = out.NextToken;
        } while (nextToken);
        return statuses;
    }
    async outcome(command, host, judge) {
        const out = await this.calls.call('ssm:GetCommandInvocation', () => this.client.send(new dist_cjs/* GetCommandInvocationCommand */.ryN({ CommandId: command.commandId, InstanceId: host.address })), host.name);
        const durationMs = Date.now() - command.sentAt;
        const outcome = { host, durationMs, ...judge(out) };
        const output = outputOf(out);
        if (output)
            (0,host_output/* showHostOutput */.vG)(host.name, `${host.name}: ${outcome.ok ? 'ok' : 'failed'} (${(0,log/* formatDuration */.a3)(durationMs)})`, output.replace(/\n$/, '').split('\n'));
        return outcome;
    }
}
const outputOf = (out) => [out.StandardOutputContent ?? '', out.StandardErrorContent ?? ''].filter(Boolean).join('\n');
/** SSM's own word, when it stopped the command (TimedOut, Cancelled) rather than the script failing. */
const ssmStatus = (out) => `SSM ${out.Status}${out.StatusDetails && out.StatusDetails !== out.Status ? ` (${out.StatusDetails})` : ''}`;
/**
 * SSM's status, the exit code and the host script's closing line (printed last, and always within
 * the output SSM keeps: see hostScriptShellCommand) say how the release went; never the whole log.
 */
const judgeHostScript = (out) => {
    const output = outputOf(out);
    const report = (0,host_script/* readHostScriptReport */.wG)(output, out.ResponseCode ?? -1);
    if (report.ok && out.Status === 'Success')
        return { ok: true, detail: report.message };
    const lastLines = report.lastLines.length ? `; last output: ${report.lastLines.join(' | ')}` : '';
    const log = (0,host_script/* hostLogPath */.iO)(output);
    const where = log ? `; full log on the instance: ${log}` : '';
    // SSM stopped it (executionTimeout, a cancel): say so, with the step it was in, not "stopped without a result".
    const stoppedBySsm = out.Status === 'TimedOut' || out.Status === 'Cancelled';
    const during = report.step && report.step !== 'start' ? ` during step ${report.step}` : '';
    const what = stoppedBySsm
        ? `${ssmStatus(out)}${during}`
        : out.Status === 'Failed' || report.step !== 'start'
            ? `${report.step ? `step ${report.step}: ` : ''}${report.message}`
            : ssmStatus(out);
    return { ok: false, detail: `${what}${lastLines}${where}`, restored: report.restored };
};
/** A hook passes when its command exits 0. */
const judgeExitCode = (out) => {
    const code = out.ResponseCode ?? -1;
    const lines = outputOf(out)
        .split('\n')
        .filter((line) => line.trim() !== '')
        .slice(-5);
    const said = lines.length ? `: ${lines.join(' | ')}` : '';
    if (out.Status === 'Success' && code === 0)
        return { ok: true, detail: 'exit 0' };
    return { ok: false, detail: out.Status === 'Failed' ? `exit ${code}${said}` : `${ssmStatus(out)}${said}` };
};
function chunks(items, size) {
    const out = [];
    for (let i = 0; i < items.length; i += size)
        out.push(items.slice(i, i + size));
    return out;
}

// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-auto-scaling/dist-cjs/index.js
var client_auto_scaling_dist_cjs = __webpack_require__(8932);
;// CONCATENATED MODULE: ./src/inventory/asg.ts





/** The scheduled action that scales the old color down after `scale-down-delay`: one per group, by name. */
const SCALE_DOWN_ACTION = 'bluegreen-perl-scale-down';
const inService = (group) => (group.Instances ?? []).filter((i) => i.LifecycleState === 'InService');
/**
 * The hosts of a color are the `InService` instances of its Auto Scaling Group, named by instance
 * id (the handle SSM and the target group know them by). Also sizes the groups: scales the idle
 * color up to the live color's size before a release or a rollback, and scales the old color down
 * after a switch, later, through a scheduled action.
 */
class AsgInventory {
    client;
    calls;
    aws;
    timing;
    constructor(client, calls, aws, timing) {
        this.client = client;
        this.calls = calls;
        this.aws = aws;
        this.timing = timing;
    }
    async hostsOf(color) {
        const group = await this.describe(color);
        const ready = inService(group);
        for (const skipped of (group.Instances ?? []).filter((i) => i.LifecycleState !== 'InService')) {
            core/* info */.pq(`Instance ${skipped.InstanceId} of ${group.AutoScalingGroupName} is ${skipped.LifecycleState}: skipped.`);
        }
        if (ready.length === 0) {
            throw new errors/* UserError */.yo(`Auto Scaling Group ${group.AutoScalingGroupName} (${color}) has no InService instance (desired capacity ${group.DesiredCapacity ?? 0}). A deploy or a rollback scales it up to the live color's size; for a switch, deploy to it first.`);
        }
        return ready.map((instance) => ({ name: instance.InstanceId ?? '', color, address: instance.InstanceId ?? '' }));
    }
    /**
     * Cancels a pending scale-down of `color`, then scales its group up to `reference`'s desired
     * capacity when it is smaller, and waits until that many instances are `InService`.
     */
    async ensureCapacity(color, reference) {
        const cancelled = await this.cancelScaleDown(color);
        const group = await this.describe(color);
        const name = group.AutoScalingGroupName ?? this.aws.autoScalingGroups[color];
        const live = reference ? await this.describe(reference) : undefined;
        const have = group.DesiredCapacity ?? 0;
        const wanted = Math.max(have, live?.DesiredCapacity ?? 0);
        if (wanted === 0) {
            throw new errors/* UserError */.yo(`Auto Scaling Group ${name} (${color}) is scaled to 0 and ${live ? `the live group ${live.AutoScalingGroupName} is too` : 'nothing is live to take a size from'}. Set its desired capacity (input '${color}-asg' names it).`);
        }
        const notes = cancelled ? [cancelled] : [];
        if (have < wanted && live) {
            // Take the live group's floor too (a scale-down set it to 0), and make room under the ceiling.
            const minSize = Math.min(Math.max(group.MinSize ?? 0, live.MinSize ?? 0), wanted);
            const maxSize = Math.max(group.MaxSize ?? 0, wanted);
            await this.calls.call('autoscaling:UpdateAutoScalingGroup', () => this.client.send(new client_auto_scaling_dist_cjs/* UpdateAutoScalingGroupCommand */.Idg({ AutoScalingGroupName: name, MinSize: minSize, MaxSize: maxSize, DesiredCapacity: wanted })), name);
            notes.push(`scaled ${name} from ${have} to ${wanted} instance(s), the size of ${reference}'s ${live.AutoScalingGroupName}`);
        }
        const ready = await this.waitInService(color, wanted);
        notes.push(`${ready} of ${wanted} instance(s) of ${name} InService`);
        return notes.join('; ');
    }
    /**
     * Scales `color` to zero `delayMs` from now through a scheduled action of its group, so the
     * runner need not wait: during the delay the group keeps its full size, and a rollback needs
     * nothing but the switch. Any later run that releases to or moves traffic to `color` deletes the
     * action first (`cancelScaleDown`); a rollback after it scales the group back up.
     */
    async scheduleScaleDown(color, delayMs, now = new Date()) {
        const name = this.aws.autoScalingGroups[color];
        if (delayMs === 0) {
            await this.calls.call('autoscaling:UpdateAutoScalingGroup', () => this.client.send(new client_auto_scaling_dist_cjs/* UpdateAutoScalingGroupCommand */.Idg({ AutoScalingGroupName: name, MinSize: 0, DesiredCapacity: 0 })), name);
            return `scaled ${name} (${color}) down to 0`;
        }
        const at = new Date(now.getTime() + delayMs);
        await this.calls.call('autoscaling:PutScheduledUpdateGroupAction', () => this.client.send(new client_auto_scaling_dist_cjs/* PutScheduledUpdateGroupActionCommand */.Yg1({
            AutoScalingGroupName: name,
            ScheduledActionName: SCALE_DOWN_ACTION,
            StartTime: at,
            MinSize: 0,
            DesiredCapacity: 0,
        })), name);
        return `${name} (${color}) scales down to 0 at ${at.toISOString()} (scheduled action ${SCALE_DOWN_ACTION})`;
    }
    /** Deletes the pending scale-down of `color`, if there is one; says so when it did. */
    async cancelScaleDown(color) {
        const name = this.aws.autoScalingGroups[color];
        const found = await this.calls.call('autoscaling:DescribeScheduledActions', () => this.client.send(new client_auto_scaling_dist_cjs/* DescribeScheduledActionsCommand */.bE3({ AutoScalingGroupName: name, ScheduledActionNames: [SCALE_DOWN_ACTION] })), name);
        if (!found.ScheduledUpdateGroupActions?.length)
            return undefined;
        await this.calls.call('autoscaling:DeleteScheduledAction', () => this.client.send(new client_auto_scaling_dist_cjs/* DeleteScheduledActionCommand */.MxB({ AutoScalingGroupName: name, ScheduledActionName: SCALE_DOWN_ACTION })), name);
        return `cancelled the pending scale-down of ${name}`;
    }
    async waitInService(color, wanted) {
        const { value: group, done, elapsedMs: waited, } = await (0,retry/* waitUntil */.a0)(() => this.describe(color), (g) => inService(g).length >= wanted, {
            deadlineMs: this.timing.capacityTimeoutMs,
            ...(0,clients/* pollPolicy */.Ak)(this.timing),
        });
        const ready = inService(group).length;
        if (done)
            return ready;
        const others = (group.Instances ?? []).filter((i) => i.LifecycleState !== 'InService').map((i) => `${i.InstanceId} ${i.LifecycleState}`);
        throw new errors/* UserError */.yo(`Auto Scaling Group ${group.AutoScalingGroupName} (${color}) has ${ready} of ${wanted} instance(s) InService after ${Math.round(waited / 1000)}s${others.length ? ` (${others.join(', ')})` : ''}. See why in its activity history: aws autoscaling describe-scaling-activities --auto-scaling-group-name ${group.AutoScalingGroupName}`);
    }
    async describe(color) {
        const name = this.aws.autoScalingGroups[color];
        const out = await this.calls.call('autoscaling:DescribeAutoScalingGroups', () => this.client.send(new client_auto_scaling_dist_cjs/* DescribeAutoScalingGroupsCommand */.NkQ({ AutoScalingGroupNames: [name] })), name);
        const group = out.AutoScalingGroups?.[0];
        if (!group)
            throw new errors/* UserError */.yo(`Auto Scaling Group ${name} (${color}) does not exist in this region. Input '${color}-asg': name an existing group, or check aws-region.`);
        return group;
    }
}

// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-elastic-load-balancing-v2/dist-cjs/index.js
var client_elastic_load_balancing_v2_dist_cjs = __webpack_require__(586);
// EXTERNAL MODULE: ./src/colors.ts
var colors = __webpack_require__(6411);
;// CONCATENATED MODULE: ./src/traffic/alb.ts





/** The target groups a forward action sends to, with their weights (a plain forward weighs 1). */
function forwardTargets(action) {
    const groups = action.ForwardConfig?.TargetGroups;
    if (groups?.length)
        return groups.map((g) => ({ arn: g.TargetGroupArn ?? '', weight: g.Weight ?? 1 }));
    return action.TargetGroupArn ? [{ arn: action.TargetGroupArn, weight: 1 }] : [];
}
/** `healthy`, or `unhealthy (Target.Timeout)`: the state with AWS's reason code. */
function stateText(d) {
    const state = d.TargetHealth?.State ?? 'unknown';
    return d.TargetHealth?.Reason ? `${state} (${d.TargetHealth.Reason})` : state;
}
/**
 * Traffic on an Application Load Balancer: the listener's default action (or one rule) forwards to
 * the blue or the green target group. A switch rewrites that forward to send everything to one
 * group while keeping the other in it at weight 0: the ALB only health-checks target groups a
 * listener uses, so both colors stay checked and a rollback can be verified. The test listener,
 * when given, forwards to the idle color: the preview route.
 */
class AlbTraffic {
    client;
    calls;
    aws;
    options;
    description;
    arns;
    names = new Map();
    preview;
    /** The forward's stickiness before this run's first step set ours: put back when the split ends. */
    stickinessBefore;
    constructor(client, calls, aws, options) {
        this.client = client;
        this.calls = calls;
        this.aws = aws;
        this.options = options;
        this.description = aws.ruleArn ? `ALB rule ${aws.ruleArn.split(':listener-rule/')[1]}` : `ALB listener ${aws.listenerArn.split(':listener/')[1]}`;
    }
    async readLive() {
        if (this.aws.testListenerArn)
            await this.readPreview(this.aws.testListenerArn);
        return this.liveOf(await this.actions());
    }
    async moveTo(color, _hosts) {
        return this.route(color, 100);
    }
    /** A step of a progressive switch: `percent` of requests to `color`, by the forward's weights. */
    async shiftTo(color, percent, _hosts) {
        return this.route(color, percent);
    }
    /**
     * The stickiness to write: during a step (below 100%) the ALB's target-group stickiness, so a
     * client keeps the group it was first sent to (one release per page); at 100% (the last step,
     * a move back) the listener's own again, as read before this run's first step.
     */
    stickinessFor(percent, current) {
        const seconds = this.options.stickySplitSeconds ?? 0;
        if (percent < 100 && seconds > 0) {
            this.stickinessBefore ??= current ?? { Enabled: false };
            return { Enabled: true, DurationSeconds: seconds };
        }
        const before = this.stickinessBefore ?? current;
        if (percent === 100)
            this.stickinessBefore = undefined;
        return before;
    }
    previewUrl(color) {
        if (!this.preview)
            return undefined;
        if (this.preview.color !== color) {
            core/* warning */.$e(`The test listener forwards to ${this.preview.color ?? 'neither color'}, not to ${color}: no preview check. A switch points it at the idle color.`);
            return undefined;
        }
        return this.preview.url;
    }
    /**
     * Rewrites the forward to send `percent` to `color` and the rest to the other color (kept in
     * at weight 0 when it gets nothing), after a last look at `color`'s target health; reads it back.
     */
    async route(color, percent) {
        const arns = await this.targetGroups();
        const other = (0,colors/* otherColor */.IP)(color);
        const notes = [];
        const cancelled = await this.options.scaleDown?.cancelScaleDown(color);
        if (cancelled)
            notes.push(cancelled);
        const actions = await this.actions();
        const forward = actions.find((a) => a.Type === 'forward');
        // A color already serving part of the traffic (a move back from a failed step) is not held to
        // the guard: it is serving now, and sending traffic back to it is the way out of trouble.
        const serving = (forward?.ForwardConfig?.TargetGroups ?? []).some((g) => g.TargetGroupArn === arns[color] && (g.Weight ?? 1) > 0);
        if (!serving)
            await this.requireHealthyGroup(color);
        const stickiness = this.stickinessFor(percent, forward?.ForwardConfig?.TargetGroupStickinessConfig);
        const rewritten = {
            Type: 'forward',
            ...(forward?.Order !== undefined && { Order: forward.Order }),
            ForwardConfig: {
                TargetGroups: [
                    { TargetGroupArn: arns[color], Weight: percent },
                    { TargetGroupArn: arns[other], Weight: 100 - percent },
                ],
                ...(stickiness && { TargetGroupStickinessConfig: stickiness }),
            },
        };
        // Other actions (authenticate-oidc before the forward, say) go back as they were.
        const next = forward
            ? actions.map((a) => (a === forward ? rewritten : a))
            : [...actions.filter((a) => a.Type !== 'fixed-response' && a.Type !== 'redirect'), rewritten];
        await this.writeActions(next);
        await this.confirm(color, percent);
        const [to, from] = [this.names.get(arns[color]), this.names.get(arns[other])];
        notes.push(percent === 100
            ? `${this.description} forwards to ${to} (${color}); ${from} stays in at weight 0`
            : `${this.description} sends ${percent}% to ${to} (${color}), ${100 - percent}% to ${from}`);
        if (percent === 100 && this.aws.testListenerArn) {
            await this.pointTestListener(this.aws.testListenerArn, other);
            notes.push(`the test listener forwards to ${other}`);
        }
        return notes.join('; ');
    }
    /**
     * The target health of each host of `color`, polled (health-retries times, health-interval
     * apart) until every host is `healthy`: new targets start `initial` while the ALB's first checks run.
     */
    async balancerHealth(color, hosts) {
        const read = async () => {
            const view = new Map();
            for (const d of await this.targetHealth(color)) {
                const id = d.Target?.Id ?? '';
                const state = { up: d.TargetHealth?.State === 'healthy', state: stateText(d) };
                // An instance registered on two ports is only as healthy as its worse registration.
                if (!view.get(id) || view.get(id)?.up)
                    view.set(id, state);
            }
            return view;
        };
        const { value } = await (0,retry/* waitUntil */.a0)(read, (view) => hosts.every((h) => view.get(h.name)?.up), {
            attempts: this.options.health.retries + 1,
            intervalMs: this.options.health.intervalMs,
            clock: (0,retry/* sleepingClock */.gY)(this.options.timing.sleep),
        });
        return value;
    }
    /**
     * Waits for the old group's deregistration delay (bounded by drain-timeout): how long the ALB
     * lets requests in flight on it finish. Then schedules the old color's scale-down, when asked.
     */
    async drain(from) {
        const arns = await this.targetGroups();
        const name = this.names.get(arns[from]);
        const out = await this.calls.call('elasticloadbalancing:DescribeTargetGroupAttributes', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeTargetGroupAttributesCommand */.cKh({ TargetGroupArn: arns[from] })), name);
        const delaySeconds = Number(out.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value ?? 300);
        const waitMs = Math.min(delaySeconds * 1000, this.options.drainTimeoutMs);
        await this.options.timing.sleep(waitMs);
        const bounded = waitMs < delaySeconds * 1000 ? `, bounded by drain-timeout ${this.options.drainTimeoutMs / 1000}s` : '';
        const notes = [`waited ${waitMs / 1000}s for ${name} (${from}) to drain (deregistration delay ${delaySeconds}s${bounded})`];
        const { scaleDown, scaleDownDelayMs } = this.options;
        if (scaleDown && scaleDownDelayMs !== undefined)
            notes.push(await scaleDown.scheduleScaleDown(from, scaleDownDelayMs));
        return notes.join('; ');
    }
    /** Names or ARNs from the inputs, resolved to ARNs once per run. */
    async targetGroups() {
        if (this.arns)
            return this.arns;
        const given = this.aws.targetGroups;
        const byArn = colors/* COLORS */.lm.filter((c) => given[c].startsWith('arn:'));
        const byName = colors/* COLORS */.lm.filter((c) => !given[c].startsWith('arn:'));
        const found = [];
        const inputs = [...byArn, ...byName].map((c) => `${c}-target-group`).join(' / ');
        const fix = `Input ${inputs}: name target groups that exist in ${this.aws.region}.`;
        if (byArn.length) {
            const out = await this.calls.call('elasticloadbalancing:DescribeTargetGroups', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeTargetGroupsCommand */.sC7({ TargetGroupArns: byArn.map((c) => given[c]) })), byArn.map((c) => given[c]).join(', '), fix);
            found.push(...(out.TargetGroups ?? []));
        }
        if (byName.length) {
            const out = await this.calls.call('elasticloadbalancing:DescribeTargetGroups', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeTargetGroupsCommand */.sC7({ Names: byName.map((c) => given[c]) })), byName.map((c) => given[c]).join(', '), fix);
            found.push(...(out.TargetGroups ?? []));
        }
        const arnOf = (color) => {
            const group = found.find((g) => g.TargetGroupArn === given[color] || g.TargetGroupName === given[color]);
            if (!group?.TargetGroupArn)
                throw new errors/* UserError */.yo(`Target group ${given[color]} (${color}) was not found. ${fix}`);
            this.names.set(group.TargetGroupArn, group.TargetGroupName ?? group.TargetGroupArn);
            return group.TargetGroupArn;
        };
        const arns = { blue: arnOf('blue'), green: arnOf('green') };
        if (arns.blue === arns.green)
            throw new errors/* UserError */.yo(`blue-target-group and green-target-group are the same target group (${this.names.get(arns.blue)}). Give each color its own.`);
        this.arns = arns;
        return arns;
    }
    async liveOf(actions) {
        const forward = actions.find((a) => a.Type === 'forward');
        // A fixed response or a redirect: no app is routed yet.
        if (!forward)
            return { kind: 'none' };
        const arns = await this.targetGroups();
        const weights = { blue: 0, green: 0 };
        for (const { arn, weight } of forwardTargets(forward)) {
            const color = colors/* COLORS */.lm.find((c) => arns[c] === arn);
            if (!color) {
                throw new errors/* UserError */.yo(`${this.description} forwards to target group ${arn}, which is neither blue-target-group (${this.names.get(arns.blue)}) nor green-target-group (${this.names.get(arns.green)}). Point it at one of them, or fix those inputs.`);
            }
            weights[color] += weight;
        }
        const total = weights.blue + weights.green;
        if (total === 0)
            return { kind: 'none' };
        if (weights.blue === 0)
            return { kind: 'color', color: 'green' };
        if (weights.green === 0)
            return { kind: 'color', color: 'blue' };
        const blue = Math.round((weights.blue / total) * 100);
        return { kind: 'weighted', weights: { blue, green: 100 - blue } };
    }
    async actions() {
        if (this.aws.ruleArn) {
            const ruleArn = this.aws.ruleArn;
            const out = await this.calls.call('elasticloadbalancing:DescribeRules', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeRulesCommand */.Ggo({ RuleArns: [ruleArn] })), ruleArn, "Input 'rule-arn': copy the ARN of an existing rule of the listener.");
            return out.Rules?.[0]?.Actions ?? [];
        }
        return (await this.listener(this.aws.listenerArn, 'listener-arn')).DefaultActions ?? [];
    }
    async writeActions(actions) {
        const { ruleArn, listenerArn } = this.aws;
        if (ruleArn) {
            await this.calls.call('elasticloadbalancing:ModifyRule', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* ModifyRuleCommand */.y5P({ RuleArn: ruleArn, Actions: actions })), ruleArn);
        }
        else {
            await this.calls.call('elasticloadbalancing:ModifyListener', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* ModifyListenerCommand */.ugc({ ListenerArn: listenerArn, DefaultActions: actions })), listenerArn);
        }
    }
    /** Reads the forward back until it says `percent` on `color` (the API is eventually consistent), bounded. */
    async confirm(color, percent) {
        const expected = (live) => percent === 100 ? live.kind === 'color' && live.color === color : live.kind === 'weighted' && live.weights[color] === percent;
        const { value: live, done } = await (0,retry/* waitUntil */.a0)(async () => this.liveOf(await this.actions()), expected, {
            ...(0,retry/* retryBounds */.Su)(this.options.timing.retry),
            clock: (0,retry/* sleepingClock */.gY)(this.options.timing.sleep),
        });
        if (done)
            return;
        const reads = live.kind === 'color' ? live.color : live.kind === 'weighted' ? `blue ${live.weights.blue}%, green ${live.weights.green}%` : live.kind;
        throw new errors/* UserError */.yo(`${this.description} was changed to send ${percent}% to ${color}, but reads back ${reads}. Check it in the EC2 console.`);
    }
    /** The last guard before the move: every target registered in `color`'s group is healthy (or min-healthy-hosts are). */
    async requireHealthyGroup(color) {
        const targets = (await this.targetHealth(color)).filter((d) => d.TargetHealth?.State !== 'draining');
        const healthy = targets.filter((d) => d.TargetHealth?.State === 'healthy');
        const needed = this.options.minHealthyHosts === undefined ? targets.length : Math.min(this.options.minHealthyHosts, targets.length);
        if (targets.length === 0 || healthy.length < needed) {
            const name = this.names.get((await this.targetGroups())[color]);
            const unhealthy = targets.filter((d) => d.TargetHealth?.State !== 'healthy').map((d) => `${d.Target?.Id} ${stateText(d)}`);
            throw new errors/* UserError */.yo(`Refusing to move traffic to ${color}: ${healthy.length} of ${targets.length} target(s) registered in ${name} are healthy${unhealthy.length ? ` (${unhealthy.join(', ')})` : ''}. Live traffic is untouched.`);
        }
    }
    async targetHealth(color) {
        const arn = (await this.targetGroups())[color];
        const out = await this.calls.call('elasticloadbalancing:DescribeTargetHealth', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeTargetHealthCommand */.qyg({ TargetGroupArn: arn })), this.names.get(arn));
        return out.TargetHealthDescriptions ?? [];
    }
    async listener(arn, input) {
        const out = await this.calls.call('elasticloadbalancing:DescribeListeners', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeListenersCommand */.AKE({ ListenerArns: [arn] })), arn, `Input '${input}': copy the ARN of an existing listener (aws elbv2 describe-listeners).`);
        const listener = out.Listeners?.[0];
        if (!listener)
            throw new errors/* UserError */.yo(`Listener ${arn} was not found. Input '${input}': copy the ARN of an existing listener.`);
        return listener;
    }
    /** The preview URL: the test listener's protocol and port on the load balancer's DNS name. */
    async readPreview(arn) {
        const listener = await this.listener(arn, 'test-listener-arn');
        const preview = await this.liveOf(listener.DefaultActions ?? []);
        const color = preview.kind === 'color' ? preview.color : undefined;
        if (this.preview) {
            this.preview.color = color;
            return;
        }
        const lbArn = listener.LoadBalancerArn ?? '';
        const out = await this.calls.call('elasticloadbalancing:DescribeLoadBalancers', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* DescribeLoadBalancersCommand */.AZi({ LoadBalancerArns: [lbArn] })), lbArn);
        const dns = out.LoadBalancers?.[0]?.DNSName;
        const scheme = listener.Protocol === 'HTTPS' ? 'https' : 'http';
        this.preview = dns ? { url: `${scheme}://${dns}:${listener.Port}`, ...(color && { color }) } : undefined;
    }
    async pointTestListener(arn, color) {
        const arns = await this.targetGroups();
        const actions = (await this.listener(arn, 'test-listener-arn')).DefaultActions ?? [];
        const forward = { Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: arns[color], Weight: 1 }] } };
        const next = actions.some((a) => a.Type === 'forward')
            ? actions.map((a) => (a.Type === 'forward' ? { ...forward, ...(a.Order !== undefined && { Order: a.Order }) } : a))
            : [forward];
        await this.calls.call('elasticloadbalancing:ModifyListener', () => this.client.send(new client_elastic_load_balancing_v2_dist_cjs/* ModifyListenerCommand */.ugc({ ListenerArn: arn, DefaultActions: next })), arn);
        if (this.preview)
            this.preview.color = color;
    }
}

// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-cloudwatch/dist-cjs/index.js
var client_cloudwatch_dist_cjs = __webpack_require__(4085);
;// CONCATENATED MODULE: ./src/aws/alarms.ts



/** DescribeAlarms takes at most 100 names per call. */
const NAMES_PER_CALL = 100;
/**
 * The CloudWatch alarms a user names (`cloudwatch-alarms`), read during validation: any in ALARM
 * fails the check and moves traffic back. CloudWatch silently leaves out names it does not know,
 * so a missing alarm is an error here: a typo must not read as "all clear".
 */
class CloudWatchAlarms {
    names;
    calls;
    client;
    constructor(names, calls, client) {
        this.names = names;
        this.calls = calls;
        this.client = client;
    }
    static forRegion(names, region, calls) {
        return new CloudWatchAlarms(names, calls, new client_cloudwatch_dist_cjs/* CloudWatchClient */.WBn((0,clients/* awsClientConfig */.rw)(region)));
    }
    async firing() {
        const found = new Map();
        for (let i = 0; i < this.names.length; i += NAMES_PER_CALL) {
            const AlarmNames = this.names.slice(i, i + NAMES_PER_CALL);
            let NextToken;
            do {
                const page = await this.calls.call('cloudwatch:DescribeAlarms', () => this.client.send(new client_cloudwatch_dist_cjs/* DescribeAlarmsCommand */.zWD({ AlarmNames, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], ...(NextToken && { NextToken }) })), `alarms ${AlarmNames.join(', ')}`);
                for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])])
                    if (alarm.AlarmName)
                        found.set(alarm.AlarmName, alarm);
                NextToken = page.NextToken;
            } while (NextToken);
        }
        const missing = this.names.filter((name) => !found.has(name));
        if (missing.length > 0) {
            throw new errors/* UserError */.yo(`CloudWatch has no alarm named ${missing.join(', ')} in this region. Input 'cloudwatch-alarms': check the names (they are case-sensitive) and aws-region.`);
        }
        return this.names
            .map((name) => found.get(name))
            .filter((alarm) => alarm?.StateValue === 'ALARM')
            .map((alarm) => `alarm ${alarm?.AlarmName} is ALARM: ${alarm?.StateReason ?? 'no reason given'}`);
    }
    close() {
        this.client.destroy();
    }
}

;// CONCATENATED MODULE: ./src/run/aws-provider.ts





/**
 * The AWS provider's parts over one set of clients: ASG inventory + SSM release + ALB traffic.
 * The inventory also scales the old color down after a switch, so the traffic holds it for that.
 */
class AwsParts {
    clients;
    /** The one retry and error policy, for any other AWS part (CloudWatch alarms). */
    calls;
    inventory;
    releaser;
    traffic;
    /** The CloudWatch alarms validation watches (`cloudwatch-alarms`), when any are named. */
    alarms;
    /** The release in S3 (`release-bucket`), when instances download it rather than fetch it with git. */
    artifact;
    constructor(settings, aws, timing = clients/* DEFAULT_AWS_TIMING */.Z$, cancelled) {
        this.clients = (0,clients/* awsClients */.e7)(aws);
        this.calls = new clients/* AwsCalls */.Vl(timing);
        const calls = this.calls;
        this.inventory = new AsgInventory(this.clients.autoScaling, calls, aws, timing);
        this.artifact = s3Artifact(settings, aws, calls);
        this.releaser = new SsmReleaser(this.clients.ssm, calls, settings, timing, this.artifact, cancelled);
        this.traffic = new AlbTraffic(this.clients.elb, calls, aws, {
            health: settings.health,
            drainTimeoutMs: settings.traffic.drainTimeoutMs,
            stickySplitSeconds: settings.rollout.stickySplitSeconds,
            ...(settings.traffic.minHealthyHosts !== undefined && { minHealthyHosts: settings.traffic.minHealthyHosts }),
            scaleDown: this.inventory,
            // Never inside the rollback window: until it ends, a rollback must be a single traffic move.
            ...(aws.scaleDownDelayMs !== undefined && { scaleDownDelayMs: Math.max(aws.scaleDownDelayMs, settings.rollout.rollbackWindowMs) }),
            timing,
        });
        if (settings.rollout.alarms.length > 0)
            this.alarms = CloudWatchAlarms.forRegion(settings.rollout.alarms, aws.region, calls);
    }
    close() {
        (0,clients/* closeClients */.Bo)(this.clients);
        this.alarms?.close();
        this.artifact?.close();
    }
}
/**
 * With `release-bucket`, the S3 artifact, its code (and the S3 SDK) loaded on first use: a run
 * without it, and a dry run or a switch with it, never load them.
 */
function s3Artifact(settings, aws, calls) {
    const bucket = aws.releaseBucket;
    const source = settings.hostRelease.source;
    if (!bucket || source.kind !== 'upload')
        return undefined;
    let loaded;
    return {
        async sourceFor(release, validForMs) {
            loaded ??= Promise.all(/* import() */[__webpack_require__.e(143), __webpack_require__.e(804)]).then(__webpack_require__.bind(__webpack_require__, 5804)).then(({ S3ReleaseArtifact }) => S3ReleaseArtifact.forRegion(aws.region, calls, bucket, settings.appName, source.path));
            return (await loaded).sourceFor(release, validForMs);
        },
        close() {
            void loaded?.then((artifact) => artifact.close(), () => undefined);
        },
    };
}


/***/ })

};

//# sourceMappingURL=945.index.js.map