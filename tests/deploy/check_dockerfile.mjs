// The Dockerfile builds with exactly the packages scripts/install-deps.sh installs to build
// projd, and its runtime stage installs the package of every shared library the built
// `projd` needs (readelf NEEDED -> ldconfig -> dpkg -S). Also: non-root user, entrypoint,
// HEALTHCHECK through `projd healthcheck`, and the same user as the Kubernetes manifests.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checks, args, loadYamlFile } from './lib.mjs';

const { source, projd } = args();
const checks = new Checks('dockerfile');
const dockerfile = readFileSync(join(source, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');

// Stages: FROM ... AS name, then its instructions.
const stages = {};
let current = null;
for (const line of dockerfile.split('\n')) {
  const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
  if (from) {
    current = from[2] || `stage${Object.keys(stages).length}`;
    stages[current] = { base: from[1], lines: [] };
  } else if (current && line.trim() && !line.trim().startsWith('#')) {
    stages[current].lines.push(line.trim());
  }
}

function aptPackages(stage) {
  const packages = [];
  for (const line of stage.lines) {
    const m = /apt-get install\s+(.*?)(?:&&|$)/.exec(line);
    if (m) packages.push(...m[1].split(/\s+/).filter((w) => w && !w.startsWith('-')));
  }
  return packages.sort();
}

function bashArray(script, name) {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, 'm').exec(script);
  if (!m) throw new Error(`scripts/install-deps.sh has no ${name}=( ... )`);
  return m[1].split('\n').map((l) => l.replace(/#.*/, '')).join(' ').split(/\s+/).filter(Boolean).sort();
}

checks.ok(stages.build && stages.runtime, 'a build and a runtime stage');
for (const [name, stage] of Object.entries(stages)) {
  checks.equal(stage.base, 'debian:bookworm-slim', `${name} stage base image`);
}
const install = readFileSync(join(source, 'scripts/install-deps.sh'), 'utf8');
checks.equal(aptPackages(stages.build), bashArray(install, 'build_packages'), 'build stage packages = install-deps.sh build_packages');

// Runtime: every NEEDED library of projd comes from a package the stage installs, or from
// the base image's essential set.
const baseImage = new Set(['libc6', 'libgcc-s1', 'libstdc++6']);
const runtime = new Set(aptPackages(stages.runtime));
const needed = execFileSync('readelf', ['-d', projd], { encoding: 'utf8' })
  .split('\n').map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1]).filter(Boolean);
checks.ok(needed.length > 3, `projd has NEEDED entries (${needed.join(', ')})`);
const cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
for (const lib of needed) {
  const path = new RegExp(`^\\s+${lib.replace(/[.+]/g, '\\$&')} \\(libc6,x86-64[^)]*\\) => (\\S+)`, 'm').exec(cache)?.[1];
  if (!checks.ok(path, `${lib} is in the linker cache`)) continue;
  let owner = '';
  for (const candidate of [path, path.replace(/^\/lib\//, '/usr/lib/'), path.replace(/^\/usr\/lib\//, '/lib/')]) {
    try {
      owner = execFileSync('dpkg', ['-S', candidate], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split(':')[0];
      break;
    } catch { /* try the other usrmerge spelling */ }
  }
  checks.ok(owner && (runtime.has(owner) || baseImage.has(owner)),
    `${lib} (package ${owner || '?'}) is installed by the runtime stage`);
}

const runtimeText = stages.runtime.lines.join('\n');
const user = /^USER\s+(\d+)(?::(\d+))?/m.exec(runtimeText);
checks.ok(user && Number(user[1]) !== 0, 'runtime runs as a numeric non-root user');
checks.ok(/^ENTRYPOINT\s+\["projd"\]/m.test(runtimeText), 'projd is the entrypoint');
checks.ok(/^HEALTHCHECK .*CMD \["projd", "healthcheck"\]/m.test(runtimeText), 'HEALTHCHECK runs projd healthcheck');
checks.ok(/^COPY --from=build \S+ \/usr\/local\/bin\/projd/m.test(runtimeText), 'runtime copies only the binary');
const deployment = loadYamlFile(join(source, 'k8s/base/deployment.yaml'));
checks.equal(deployment.spec.template.spec.securityContext.runAsUser, Number(user?.[1]), 'k8s runAsUser = Dockerfile USER');
checks.finish();
