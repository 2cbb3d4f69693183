// Writes <dir>/licenses.txt: the license of every package whose code is in the bundle in <dir>, in
// the format of ncc's `--license` (name, license type, license text, a blank line; sorted by name).
// ncc's own file holds only the last chunk's packages once the bundle has chunks of its own (the
// providers' SDKs are loaded by dynamic import), so the bundled packages are read from the source
// maps of every chunk instead.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const dir = process.argv[2] ?? 'dist';
const root = process.cwd();
const packageDirs = new Set();
for (const map of readdirSync(dir).filter((name) => name.endsWith('.js.map'))) {
  for (const source of JSON.parse(readFileSync(join(dir, map), 'utf8')).sources) {
    // `.././node_modules/a/node_modules/@b/c/lib/x.js` -> `node_modules/a/node_modules/@b/c`
    const match = /(node_modules\/(?:.*\/node_modules\/)?(?:@[^/]+\/)?[^/]+)\//.exec(source);
    if (match) packageDirs.add(match[1]);
  }
}

const entries = new Map();
for (const packageDir of packageDirs) {
  const path = resolve(root, packageDir);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
  } catch {
    continue; // a folder of a package without its own package.json: its parent package covers it
  }
  if (entries.has(manifest.name)) continue;
  const licenseFile = readdirSync(path).find((name) => /^(licen[cs]e|copying)/i.test(name));
  const text = licenseFile ? readFileSync(join(path, licenseFile), 'utf8').replace(/\s+$/, '') : '';
  const type = typeof manifest.license === 'string' ? manifest.license : (manifest.license?.type ?? '');
  entries.set(manifest.name, `${manifest.name}\n${type}\n${text}`);
}

const names = [...entries.keys()].sort();
writeFileSync(join(dir, 'licenses.txt'), names.map((name) => `${entries.get(name)}\n\n`).join(''));
console.log(`licenses.txt: ${names.length} packages`);
