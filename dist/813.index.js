export const id = 813;
export const ids = [813];
export const modules = {

/***/ 813:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  JumpHostTunnel: () => (/* binding */ JumpHostTunnel),
  SshRunner: () => (/* binding */ SshRunner),
  connectSsh: () => (/* binding */ connectSsh)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 15 modules
var core = __webpack_require__(4116);
// EXTERNAL MODULE: ./node_modules/node-ssh/lib/esm/index.mjs + 2 modules
var esm = __webpack_require__(9487);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(7075);
// EXTERNAL MODULE: external "node:string_decoder"
var external_node_string_decoder_ = __webpack_require__(6193);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(3916);
// EXTERNAL MODULE: ./src/hosts/command.ts
var command = __webpack_require__(7486);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
;// CONCATENATED MODULE: ./src/hosts/known-hosts.ts

function parseKnownHosts(text) {
    const lines = [];
    for (const raw of text.split(/\r?\n/)) {
        const line = raw.trim();
        if (!line || line.startsWith('#'))
            continue;
        const fields = line.split(/\s+/);
        const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
        const [hosts, type, key] = fields;
        if (!hosts || !type || !key || marker === '@cert-authority')
            continue;
        lines.push({ patterns: hosts.split(','), type, key, revoked: marker === '@revoked' });
    }
    return lines;
}
/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
function knownHostsName(host, port) {
    return port === 22 ? host : `[${host}]:${port}`;
}
function globMatches(pattern, name) {
    const regex = pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.');
    return new RegExp(`^${regex}$`, 'i').test(name);
}
function hashedMatches(pattern, name) {
    const [, magic, salt, hash] = pattern.split('|');
    if (magic !== '1' || !salt || !hash)
        return false;
    return (0,external_node_crypto_.createHmac)('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}
/** Whether a line's patterns name this host (a negated match excludes it, whatever else matches). */
function lineNames(line, name) {
    let matched = false;
    for (const pattern of line.patterns) {
        if (pattern.startsWith('!')) {
            if (globMatches(pattern.slice(1), name))
                return false;
        }
        else if (pattern.startsWith('|') ? hashedMatches(pattern, name) : globMatches(pattern, name)) {
            matched = true;
        }
    }
    return matched;
}
function keysFor(lines, host, port) {
    const name = knownHostsName(host, port);
    const named = lines.filter((line) => lineNames(line, name));
    return { trusted: named.filter((l) => !l.revoked), revoked: named.filter((l) => l.revoked) };
}
/** The key type written inside an SSH public key blob (its first string). */
function keyTypeOf(blob) {
    const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
    return blob.subarray(4, 4 + length).toString('latin1');
}
/** `SHA256:...` as `ssh-keygen -l` prints it. */
function fingerprint(blob) {
    return `SHA256:${(0,external_node_crypto_.createHash)('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
/** Host key algorithms a client may ask for to get a key of each known type (RSA keys sign with SHA-2 too). */
function hostKeyAlgorithmsFor(types) {
    const algorithms = types.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]));
    return [...new Set(algorithms)];
}

// EXTERNAL MODULE: ./src/hosts/ssh-endpoint.ts
var ssh_endpoint = __webpack_require__(8743);
;// CONCATENATED MODULE: ./src/hosts/ssh.ts








/** Host key types ssh2 can verify; a known_hosts line of another type (a security key) cannot be used. */
const VERIFIABLE_KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa', 'ssh-dss']);
/** How long the TCP connection and the SSH handshake may take before the host counts as unreachable. */
const READY_TIMEOUT_MS = 20_000;
/**
 * A connection kept for a whole run (the HAProxy host's, held through a progressive switch's
 * pauses) sends a keepalive every quarter of the connect limit; three unanswered ones end it, so
 * a dead peer is noticed in about the time a first connect may take, not at the next TCP timeout.
 */
const KEEPALIVE_INTERVAL_MS = READY_TIMEOUT_MS / 4;
const KEEPALIVE_COUNT_MAX = 3;
/**
 * Opens an SSH connection to `target` (through `ssh.jumpHost` when set) and returns a runner for
 * its commands. The host key is checked against `ssh-known-hosts` before any authentication;
 * every failure to connect is a one-line UserError that names the host.
 */
async function connectSsh(target, ssh) {
    const destination = (0,ssh_endpoint/* endpoint */.s)(target, ssh);
    let jump;
    let sock;
    if (ssh.jumpHost) {
        const via = (0,ssh_endpoint/* endpoint */.s)(ssh.jumpHost, ssh);
        jump = await ssh_open(via, ssh, undefined, 'the jump host ');
        try {
            // The jump host opens the TCP connection to the target; SSH (and the host key check) runs
            // end to end through it, so the jump host never sees the session.
            sock = (await jump.forwardOut('127.0.0.1', 0, destination.host, destination.port));
        }
        catch (error) {
            jump.dispose();
            throw new errors/* UserError */.yo(`The jump host ${via.name} could not open a connection to ${destination.name}: ${reasonOf(error)}. Check that ${destination.name} is reachable from the jump host and that its sshd allows TCP forwarding (AllowTcpForwarding).`);
        }
    }
    try {
        const connection = await ssh_open(destination, ssh, sock, '');
        return new SshRunner(connection, jump, `${destination.user}@${destination.name}`);
    }
    catch (error) {
        jump?.dispose();
        throw error;
    }
}
/**
 * TCP connections opened by the jump host, for health probes of addresses only it can reach
 * (`probe-via`). One SSH connection to the jump host is held for the run, opened on first use and
 * shared by every probe (each probe is one forwarded channel on it); reopened if it dropped.
 * Release connections each open their own, closed with their host, so they are not reused here.
 */
class JumpHostTunnel {
    jumpHost;
    ssh;
    description;
    connection;
    constructor(jumpHost, ssh) {
        this.jumpHost = jumpHost;
        this.ssh = ssh;
        this.description = `the jump host ${(0,ssh_endpoint/* endpoint */.s)(jumpHost, ssh).name}`;
    }
    async connect(host, port) {
        const jump = await this.open();
        return (await jump.forwardOut('127.0.0.1', 0, host, port));
    }
    async close() {
        const connection = this.connection;
        this.connection = undefined;
        (await connection?.catch(() => undefined))?.dispose();
    }
    open() {
        if (!this.connection) {
            const opening = ssh_open((0,ssh_endpoint/* endpoint */.s)(this.jumpHost, this.ssh), this.ssh, undefined, 'the jump host ');
            this.connection = opening;
            const forget = () => {
                if (this.connection === opening)
                    this.connection = undefined;
            };
            opening.then(
            // A dropped connection is forgotten (the next probe opens another), never an uncaught 'error' event.
            (jump) => jump.connection?.on('error', forget).once('close', forget), forget);
        }
        return this.connection;
    }
}
async function ssh_open(to, ssh, sock, what) {
    const check = hostKeyCheck(to, ssh);
    if (check.refusal)
        throw check.refusal;
    if (!ssh.privateKey && !process.env.SSH_AUTH_SOCK) {
        throw new errors/* InputError */.dz('ssh-private-key', `is empty and no SSH agent is running, so there is no key to log in to ${what}${to.name} with`, 'Pass the private key from a secret: `ssh-private-key: ${{ secrets.DEPLOY_KEY }}`');
    }
    const config = {
        ...(sock ? { sock } : { host: to.host, port: to.port }),
        username: to.user,
        readyTimeout: READY_TIMEOUT_MS,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        hostVerifier: (key) => check.verify(key),
        ...(check.algorithms && { algorithms: { serverHostKey: check.algorithms } }),
        ...(ssh.privateKey ? { privateKey: ssh.privateKey } : process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
    };
    const connection = new esm/* NodeSSH */.H();
    try {
        await connection.connect(config);
        keepEnding(connection);
        // Small writes go out at once: with Nagle's algorithm, a runtime API command sent right after
        // another channel's traffic waits for the server's delayed ACK (40 ms) before it leaves.
        connection.connection?.setNoDelay(true);
        return connection;
    }
    catch (error) {
        connection.dispose();
        const refusal = check.refused();
        if (refusal)
            throw refusal;
        throw new errors/* UserError */.yo(`Cannot connect to ${what}${to.user}@${to.name} over SSH: ${connectionProblem(error, to)}`);
    }
}
/**
 * Why each open connection ended, once it did. node-ssh listens for 'error' only while it connects:
 * a later one (a reset, a keepalive timeout) with no listener would crash the process, even in the
 * moment before a runner takes the connection over (a jump host's, while the target's handshake
 * runs through it). So a listener is kept from 'ready' for the connection's life; a runner reports
 * what it recorded to the next command (`connectionEnded`).
 */
const endings = new WeakMap();
function keepEnding(connection) {
    const client = connection.connection;
    const ended = (reason) => {
        if (!endings.has(connection))
            endings.set(connection, reason);
    };
    client?.on('error', (error) => ended(reasonOf(error)));
    client?.on('close', () => ended('the connection closed'));
}
/** Why `connection` ended; undefined while it is open. */
function connectionEnded(connection) {
    return connection && endings.get(connection);
}
function hostKeyCheck(to, ssh) {
    const name = knownHostsName(to.host, to.port);
    const howToTrust = `Add the line that \`ssh-keyscan -p ${to.port} ${to.host}\` prints (compare its fingerprint with the host's own first) to ssh-known-hosts, or set ssh-insecure-skip-host-key-check: true for throwaway hosts`;
    if (ssh.skipHostKeyCheck) {
        return {
            verify: (key) => {
                core/* warning */.$e(`Host key of ${name} accepted without verification (${keyTypeOf(key)} ${fingerprint(key)}): ssh-insecure-skip-host-key-check is true, so a man in the middle would go unnoticed.`);
                return true;
            },
            refused: () => undefined,
        };
    }
    const { trusted, revoked } = keysFor(parseKnownHosts(ssh.knownHosts ?? ''), to.host, to.port);
    const usable = trusted.filter((line) => VERIFIABLE_KEY_TYPES.has(line.type));
    const refuse = (problem) => new errors/* InputError */.dz('ssh-known-hosts', problem, howToTrust);
    if (usable.length === 0) {
        const problem = !ssh.knownHosts
            ? `is empty, so the host key of ${name} cannot be verified`
            : trusted.length > 0
                ? `lists only ${trusted.map((l) => l.type).join(', ')} keys for ${name}, which cannot be verified here`
                : `has no key for ${name}`;
        return { refusal: refuse(problem), verify: () => false, refused: () => undefined };
    }
    let refusal;
    return {
        algorithms: hostKeyAlgorithmsFor([...new Set(usable.map((line) => line.type))]),
        verify(key) {
            const presented = key.toString('base64');
            const id = `${keyTypeOf(key)} key ${fingerprint(key)}`;
            if (revoked.some((line) => line.key === presented)) {
                refusal = refuse(`marks the ${id} of ${name} as @revoked; it presented that key, so nothing was run there`);
            }
            else if (!usable.some((line) => line.key === presented)) {
                refusal = refuse(`does not list the ${id} that ${name} presented, so nothing was run there (the host was rebuilt, or someone is in the middle)`);
            }
            return refusal === undefined;
        },
        refused: () => refusal,
    };
}
/** An error's message; ssh2's and Node's socket errors included, whichever realm made them. */
function reasonOf(error) {
    return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
}
/** A connection failure in words, with what to check. */
function connectionProblem(error, to) {
    const { code, level } = (error ?? {});
    if (level === 'client-authentication')
        return `the host refused the key for user ${to.user}. Check ssh-private-key and ssh-user, and that the public key is in ~${to.user}/.ssh/authorized_keys on the host`;
    if (level === 'client-timeout' || code === 'ETIMEDOUT')
        return `no SSH handshake within ${READY_TIMEOUT_MS / 1000} s. Check that the host is up and that a firewall lets the runner reach port ${to.port}`;
    switch (code) {
        case 'ECONNREFUSED':
            return `connection refused: nothing listens on port ${to.port}. Check that sshd runs there and the port is right (ssh-port, or host:port)`;
        case 'EHOSTUNREACH':
        case 'ENETUNREACH':
            return 'no route to the host. Check the address and the network between the runner and the host';
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
            return `the name ${to.host} does not resolve. Check the host name`;
        case 'ECONNRESET':
            return "the connection was reset during the handshake. Check that this port is sshd, and the host's MaxStartups";
    }
    return `${reasonOf(error).replace(/\.$/, '')}. Check the host, port and user`;
}
/** Runs commands on one host over an open SSH connection: each argv becomes shell text through `toShell` only. */
class SshRunner {
    connection;
    jump;
    description;
    /** Why a command found the connection gone, when no 'error' or 'close' said so. */
    failed;
    constructor(connection, jump, description) {
        this.connection = connection;
        this.jump = jump;
        this.description = description;
    }
    /** Why the connection (or the jump host's) ended, once it did; the next command reports it. */
    get lost() {
        // A jump host's connection that ended takes the target's with it: its reason is the one to give.
        const jumpEnded = connectionEnded(this.jump);
        return (jumpEnded === undefined ? undefined : `the jump host: ${jumpEnded}`) ?? connectionEnded(this.connection) ?? this.failed;
    }
    async run(argv, options = {}) {
        if (this.lost !== undefined || !this.connection.isConnected())
            throw this.connectionLost(argv, false);
        const out = streamOf((line) => options.onLine?.(line, 'stdout'));
        const err = streamOf((line) => options.onLine?.(line, 'stderr'));
        let timer;
        let stopped;
        let onAbort;
        let giveUp;
        // sshd confirms a closed session only once the remote command exited: a stopped run does not wait for that.
        const gaveUp = new Promise((resolve) => (giveUp = () => resolve(undefined)));
        let started = false;
        try {
            const running = this.connection.execCommand((0,command/* toShell */.aB)(argv), {
                // A Readable of one chunk: a Buffer given as is would be read byte by byte.
                ...(options.stdin !== undefined && { stdin: external_node_stream_.Readable.from([options.stdin]) }),
                noTrim: true,
                onStdout: out.push,
                onStderr: err.push,
                onChannel: (channel) => {
                    started = true;
                    // Closing the session hangs up on the remote command, as a dropped connection would.
                    const stop = (why) => {
                        stopped ??= why;
                        channel.close();
                        giveUp();
                    };
                    if (options.timeoutMs)
                        timer = setTimeout(() => stop('timeout'), options.timeoutMs);
                    if (options.signal?.aborted)
                        stop('cancelled');
                    onAbort = () => stop('cancelled');
                    options.signal?.addEventListener('abort', onAbort, { once: true });
                },
            });
            running.catch(() => undefined); // once given up on, how it ends does not matter
            const result = await Promise.race([running, gaveUp]);
            const stdout = out.end();
            const stderr = err.end();
            if (stopped || !result)
                return {
                    code: 124,
                    stdout,
                    stderr: `${stderr}${stopped === 'timeout' ? `stopped after ${options.timeoutMs} ms (timeout)` : 'stopped: cancelled'}`,
                    stopped,
                };
            // No exit status because the connection went away under the command: its outcome is unknown.
            if (result.code === null && !result.signal && this.lost !== undefined)
                throw this.connectionLost(argv, true);
            return { code: result.code ?? 128, stdout, stderr: stderr + (result.signal ? `killed by ${result.signal}` : '') };
        }
        catch (error) {
            if (error instanceof errors/* ConnectionLost */.pz)
                throw error;
            if (this.lost !== undefined || !this.connection.isConnected()) {
                this.failed ??= reasonOf(error);
                throw this.connectionLost(argv, started);
            }
            throw new errors/* UserError */.yo(`SSH to ${this.description} failed while running ${argv[0] ?? 'a command'}: ${reasonOf(error)}`);
        }
        finally {
            clearTimeout(timer);
            if (onAbort)
                options.signal?.removeEventListener('abort', onAbort);
        }
    }
    /**
     * One SSH channel running the command, its stdin and stdout held open (its stderr is dropped). A
     * connection that dropped before the channel opened is a ConnectionLost of a command that did
     * not start, which the caller may run again over a new connection.
     */
    async open(argv) {
        const client = this.connection.connection;
        if (this.lost !== undefined || !client)
            throw this.connectionLost(argv, false);
        return new Promise((resolve, reject) => {
            const failed = (error) => reject(this.lost !== undefined || !this.connection.isConnected()
                ? this.connectionLost(argv, false)
                : new errors/* UserError */.yo(`SSH to ${this.description} could not open a channel for ${argv[0] ?? 'a command'}: ${reasonOf(error)}`));
            try {
                client.exec((0,command/* toShell */.aB)(argv), (error, channel) => error ? failed(error) : (channel.stderr.resume(), resolve(channel)));
            }
            catch (error) {
                failed(error);
            }
        });
    }
    async close() {
        this.connection.dispose();
        this.jump?.dispose();
    }
    connectionLost(argv, started) {
        const what = argv[0] ?? 'a command';
        const outcome = started ? `while ${what} ran there, so whether it finished is not known` : `before ${what} could start there, so nothing of it ran`;
        return new errors/* ConnectionLost */.pz(`The SSH connection to ${this.description} was lost (${this.lost ?? 'not connected'}) ${outcome}`, started);
    }
}
/** Collects a channel's bytes as text (multi-byte characters split across chunks stay whole) and its lines. */
function streamOf(emit) {
    const decoder = new external_node_string_decoder_.StringDecoder('utf8');
    const lines = (0,command/* lineSplitter */.s1)(emit);
    const text = [];
    const take = (piece) => {
        text.push(piece);
        lines.push(piece);
    };
    return {
        push: (chunk) => take(decoder.write(chunk)),
        end: () => {
            take(decoder.end());
            lines.end();
            return text.join('');
        },
    };
}


/***/ })

};

//# sourceMappingURL=813.index.js.map