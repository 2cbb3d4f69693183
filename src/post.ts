// First: bundled dependencies read CommonJS globals while they load.
import './esm-globals.js';
import * as core from '@actions/core';
import { messageOf } from './errors.js';
import { GitHubRepo } from './github/client.js';
import { DeployLock, LOCK_STATE, type HeldLock } from './state/lock.js';

/**
 * The action's post step (`runs.post`): the runner runs it after the job's steps, also when the main
 * step was cancelled or killed. A main step that ended in any way of its own released its lock and
 * cleared the saved state; one that was killed outright (SIGKILL after a cancel, a lost runner
 * process) left it here, and this deletes that very lock: same nonce, same run, same attempt, so a
 * lock another run took meanwhile stays. It never fails the job.
 */
async function post(): Promise<void> {
  const saved = core.getState(LOCK_STATE);
  if (!saved) return;
  const held = JSON.parse(saved) as HeldLock;
  const token = core.getInput('github-token');
  core.setSecret(token);
  const [owner, repo] = (process.env.GITHUB_REPOSITORY ?? '').split('/');
  if (!token || !owner || !repo) return;
  const github = new GitHubRepo(token, { owner, repo }, (process.env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, ''));
  if (await DeployLock.releaseLeftover(github, held)) {
    core.warning(
      `The main step ended without releasing its deploy lock (it was killed): deleted the repository variable ${held.variable} it held, so the next run does not wait for lock-expiry. Where traffic is was not recorded: the next run reads it from the load balancer.`,
    );
  }
}

await post().catch((error: unknown) =>
  core.warning(`The post step could not check the deploy lock: ${messageOf(error)}. If the next run waits for it, delete the lock's repository variable.`),
);
