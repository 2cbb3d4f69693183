import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Settings } from '../settings.js';

/** The usual cause of a release directory without the app: the job has no checkout step. */
const CHECKOUT_FIX = 'Add an `actions/checkout` step before this one (a job starts with an empty workspace)';

/**
 * Checks, on the runner and before any state, lock or host is touched, that a deploy from a
 * directory on the runner has something to deploy: the directory exists and is not empty, holds
 * `psgi-file`, and holds what the install step will need. Without this, an empty workspace is
 * uploaded as an empty tarball and every host fails later at install or `perl -c`.
 */
export function checkReleaseSource(settings: Settings): void {
  const { source, psgiFile, installCommand } = settings.hostRelease;
  // AWS uploads only through release-bucket; without it SSM refuses an upload with its own message (ssmReleaseSource).
  if (settings.mode !== 'deploy' || source.kind !== 'upload' || (settings.provider.name === 'aws' && !settings.provider.releaseBucket)) return;
  const dir = source.path;
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InputError('release-path', `'${dir}' is not a directory on the runner`, `${CHECKOUT_FIX}, or point release-path at the app directory`);
  }
  // `.git/` alone is not a release: the tarball leaves it out.
  if (readdirSync(dir).filter((name) => name !== '.git').length === 0) {
    throw new InputError('release-path', `'${dir}' is empty, so there is no release to upload`, `${CHECKOUT_FIX}, or point release-path at the app directory`);
  }
  const has = (file: string) => statSync(join(dir, file), { throwIfNoEntry: false })?.isFile() === true;
  if (!has(psgiFile)) {
    throw new InputError(
      'psgi-file',
      `'${psgiFile}' is not in the release directory ${dir}`,
      `${CHECKOUT_FIX}, point release-path at the app directory, or set psgi-file to the app's entry point`,
    );
  }
  for (const [files, installer] of installNeeds(installCommand, has('cpanfile.snapshot'))) {
    const [file] = files;
    if (!files.some(has)) {
      throw new InputError(
        'release-path',
        `'${dir}' has no ${file}, which ${installer} needs`,
        `${CHECKOUT_FIX}; commit ${file} with the app${installCommand ? ', or change install-command' : ''}`,
      );
    }
  }
}

/**
 * The files the install step reads, with the installer that reads them. The default step (the host
 * script's) runs `carton install --deployment` when the release has a snapshot, `cpanm
 * --installdeps` when it has a cpanfile, and nothing otherwise; a command the user wrote is
 * recognised by the installers it names.
 */
function installNeeds(installCommand: string | undefined, hasSnapshot: boolean): [files: [string, ...string[]], installer: string][] {
  if (installCommand === undefined) return hasSnapshot ? [[['cpanfile'], 'carton install --deployment']] : [];
  const needs: [[string, ...string[]], string][] = [];
  const carton = /\bcarton\s+install\b[^;&|\n]*/.exec(installCommand)?.[0];
  if (carton) needs.push([['cpanfile'], 'carton install']);
  if (carton?.includes('--deployment')) needs.push([['cpanfile.snapshot'], 'carton install --deployment']);
  // cpanm reads the dependencies from any of these.
  if (/\bcpanm\b[^;&|\n]*--installdeps\b/.test(installCommand))
    needs.push([['cpanfile', 'META.json', 'META.yml', 'Makefile.PL', 'Build.PL'], 'cpanm --installdeps']);
  return needs;
}
