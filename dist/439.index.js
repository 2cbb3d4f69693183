export const id = 439;
export const ids = [439];
export const modules = {

/***/ 5439:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   DigitalOceanClient: () => (/* binding */ DigitalOceanClient)
/* harmony export */ });
/* unused harmony export LoadBalancerBusyError */
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(4116);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3916);
/* harmony import */ var _retry_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(9809);



/** Attributes of a load balancer that a PUT must repeat: DigitalOcean resets any it omits. */
const WRITABLE_LOAD_BALANCER_ATTRIBUTES = [
    'name',
    'project_id',
    'size_unit',
    'size',
    'forwarding_rules',
    'health_check',
    'sticky_sessions',
    'redirect_http_to_https',
    'enable_proxy_protocol',
    'enable_backend_keepalive',
    'http_idle_timeout_seconds',
    'vpc_uuid',
    'disable_lets_encrypt_dns_records',
    'firewall',
    'network',
    'network_stack',
    'type',
    'domains',
    'glb_settings',
    'target_load_balancer_ids',
    'tls_cipher_policy',
];
const PER_PAGE = 200; // the API's maximum
/**
 * DigitalOcean refuses to update a load balancer that is still applying an earlier change:
 * `403 forbidden: Load Balancer can't be updated while it processes previous actions`. Its API
 * description does not list that answer; its clients (Ansible's, Terraform's) wait for `active`.
 */
const BUSY_MESSAGE = /can't be updated while it processes previous actions/i;
/** A load balancer update refused because the balancer is still applying an earlier one. */
class LoadBalancerBusyError extends _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo {
    name = 'LoadBalancerBusyError';
}
/**
 * A small typed client over fetch for the few DigitalOcean API calls we make. Chosen over
 * `digitalocean-js` (unmaintained, no pagination helper, no retry on 429) to keep the bundle small
 * and the behaviour ours: pagination, rate limits and errors that name the input to fix.
 */
class DigitalOceanClient {
    apiUrl;
    token;
    retry;
    maxRetryAfterMs;
    settle;
    clock;
    constructor(apiUrl, token, options = {}) {
        this.apiUrl = apiUrl;
        this.token = token;
        this.retry = options.retry ?? { retries: 5, initialDelayMs: 1000, maxDelayMs: 16_000 };
        this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
        // Updates usually apply within a minute; a busy region can take several.
        this.settle = options.settle ?? { initialDelayMs: 500, maxDelayMs: 5000, timeoutMs: 600_000 };
        this.clock = options.clock ?? _retry_js__WEBPACK_IMPORTED_MODULE_2__/* .systemClock */ .ml;
    }
    /** Every Droplet with the tag, across all pages; an aborted `signal` ends the listing and its retries with WaitAbortedError. */
    async dropletsByTag(tag, signal) {
        const droplets = [];
        let next = `/v2/droplets?tag_name=${encodeURIComponent(tag)}&per_page=${PER_PAGE}`;
        // A bounded walk: 10,000 pages of 200 is far beyond any account.
        for (let page = 0; next && page < 10_000; page++) {
            const body = await this.request('GET', next, `listing Droplets tagged ${tag}`, undefined, signal);
            droplets.push(...body.droplets);
            next = body.links?.pages?.next;
        }
        return droplets;
    }
    /** Reads the load balancer; an aborted `signal` ends the read and its retries at once with WaitAbortedError. */
    async loadBalancer(id, signal) {
        const body = await this.request('GET', `/v2/load_balancers/${encodeURIComponent(id)}`, `reading load balancer ${id}`, undefined, signal);
        return body.load_balancer;
    }
    /**
     * Reads the load balancer until it is `active` (done applying earlier updates), polling with
     * backoff up to the settle limit. `errored` ends the wait at once: it needs a person. An aborted
     * `signal` (the job's cancel) ends the wait at once with WaitAbortedError.
     */
    async activeLoadBalancer(id, signal) {
        const read = async () => {
            const lb = await this.loadBalancer(id, signal);
            if (lb.status === 'errored')
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo(`Load balancer ${lb.name} (${id}) is errored. Repair it in the DigitalOcean console, then run again.`);
            return lb;
        };
        const { initialDelayMs, maxDelayMs, timeoutMs } = this.settle;
        const { value: lb, done } = await (0,_retry_js__WEBPACK_IMPORTED_MODULE_2__/* .waitUntil */ .a0)(read, (lb) => lb.status === 'active', {
            deadlineMs: timeoutMs,
            intervalMs: initialDelayMs,
            backoff: { maxMs: maxDelayMs },
            clock: this.clock,
            ...(signal && { signal }),
        });
        if (done)
            return lb;
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo(`Load balancer ${lb.name} (${id}) was still being updated (status ${lb.status}) after ${timeoutMs / 1000} s. Check it in the DigitalOcean console, then run again.`);
    }
    /**
     * Points the load balancer at a tag or at Droplet ids, repeating every other attribute it has.
     * Waits until it is `active` first, and again when DigitalOcean still refuses the update as busy
     * (someone else's change can land between the read and the PUT), within the settle limit.
     * Returns the balancer as the PUT answered it (status `new`: the update is being applied). An
     * aborted `signal` ends those waits at once with WaitAbortedError: then no update was applied.
     */
    async pointLoadBalancer(id, target, signal) {
        let name = id;
        const update = async () => {
            const current = await this.activeLoadBalancer(id, signal);
            name = current.name;
            const body = { region: typeof current.region === 'string' ? current.region : current.region.slug };
            for (const attribute of WRITABLE_LOAD_BALANCER_ATTRIBUTES) {
                if (current[attribute] !== undefined && current[attribute] !== null)
                    body[attribute] = current[attribute];
            }
            Object.assign(body, target);
            const answer = await this.request('PUT', `/v2/load_balancers/${encodeURIComponent(id)}`, `updating load balancer ${current.name}`, body);
            return answer.load_balancer;
        };
        return (0,_retry_js__WEBPACK_IMPORTED_MODULE_2__/* .retry */ .L5)(update, {
            deadlineMs: this.settle.timeoutMs,
            intervalMs: this.settle.initialDelayMs,
            retryable: (error) => error instanceof LoadBalancerBusyError,
            onRetry: () => _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Load balancer ${name} is busy applying an earlier update; waiting for it to be active before updating it again`),
            clock: this.clock,
            ...(signal && { signal }),
        });
    }
    /** An aborted `signal` ends the request and its retries with WaitAbortedError (reads only: an update sent is left to complete). */
    async request(method, pathOrUrl, what, body, signal) {
        const url = this.resolve(pathOrUrl);
        const send = async () => {
            try {
                const response = await fetch(url, {
                    method,
                    headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
                    ...(body !== undefined && { body: JSON.stringify(body) }),
                    signal: signal ? AbortSignal.any([AbortSignal.timeout(30_000), signal]) : AbortSignal.timeout(30_000),
                });
                return { response, detail: response.ok ? '' : await errorMessage(response) };
            }
            catch (error) {
                return { unreachable: error };
            }
        };
        // No answer, a 429 and a 5xx are tried again.
        const retryable = (answer) => 'unreachable' in answer || answer.response.status === 429 || answer.response.status >= 500;
        const { value: answer } = await (0,_retry_js__WEBPACK_IMPORTED_MODULE_2__/* .waitUntil */ .a0)(send, (answer) => !retryable(answer), {
            attempts: this.retry.retries + 1,
            intervalMs: (attempt, last) => 'response' in last && last.response.status === 429 ? this.retryAfter(last.response, attempt) : (0,_retry_js__WEBPACK_IMPORTED_MODULE_2__/* .backoffDelay */ .EY)(this.retry, attempt),
            onWait: (last, wait) => {
                if ('response' in last)
                    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`DigitalOcean answered ${last.response.status} while ${what}; retrying in ${(wait / 1000).toFixed(1)} s`);
            },
            clock: this.clock,
            ...(signal && { signal }),
        });
        (0,_retry_js__WEBPACK_IMPORTED_MODULE_2__/* .throwIfAborted */ .Te)(signal);
        if ('unreachable' in answer) {
            const error = answer.unreachable;
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo(`DigitalOcean API at ${this.apiUrl} could not be reached while ${what}: ${error instanceof Error ? error.message : String(error)}. Check digitalocean-api-url.`);
        }
        const { response, detail } = answer;
        if (response.ok)
            return (await response.json());
        if (response.status === 401) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo(`DigitalOcean refused the token while ${what} (401 ${detail}). Input 'digitalocean-token': pass a valid API token from a secret.`);
        }
        if (response.status === 403 && BUSY_MESSAGE.test(detail)) {
            throw new LoadBalancerBusyError(`DigitalOcean refused ${what} (403 ${detail}).`);
        }
        if (response.status === 403) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo(`DigitalOcean denied ${what} (403 ${detail}). Give the token of input 'digitalocean-token' the scope it needs (droplet:read, tag:read, load_balancer:read and load_balancer:update).`);
        }
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .yo(`DigitalOcean answered ${response.status} while ${what}: ${detail}.`);
    }
    retryAfter(response, attempt) {
        const seconds = Number(response.headers.get('retry-after'));
        if (Number.isFinite(seconds) && seconds >= 0)
            return Math.min(seconds * 1000, this.maxRetryAfterMs);
        const reset = Number(response.headers.get('ratelimit-reset'));
        if (Number.isFinite(reset) && reset > 0)
            return Math.min(Math.max(0, reset * 1000 - Date.now()), this.maxRetryAfterMs);
        return (0,_retry_js__WEBPACK_IMPORTED_MODULE_2__/* .backoffDelay */ .EY)(this.retry, attempt);
    }
    /** `links.pages.next` is an absolute URL on the API's host; keep every request on the configured base. */
    resolve(pathOrUrl) {
        const base = new URL(this.apiUrl.endsWith('/') ? this.apiUrl : `${this.apiUrl}/`);
        const target = new URL(pathOrUrl, base);
        if (/^https?:/.test(pathOrUrl)) {
            // The API answers with its public host even behind a proxy: follow the path and query only.
            return new URL(`${target.pathname.replace(/^\//, '')}${target.search}`, base).toString();
        }
        return new URL(pathOrUrl.replace(/^\//, ''), base).toString();
    }
}
async function errorMessage(response) {
    const text = await response.text().catch(() => '');
    try {
        const body = JSON.parse(text);
        return [body.id, body.message].filter(Boolean).join(': ') || response.statusText;
    }
    catch {
        return text.slice(0, 200) || response.statusText;
    }
}


/***/ })

};

//# sourceMappingURL=439.index.js.map