// Every command the docs show is one that works: in each fenced code block of README.md,
// docs/, compose/ and k8s/, a `projd ...` line names existing subcommands and flags (checked
// against `projd ... --help`), its VAR=value prefixes are variables projd reads, `make X`
// names a Makefile target, and paths given to kubectl/docker compose exist.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checks, args, projdVariables } from './lib.mjs';

const { source, projd } = args();
const checks = new Checks('docs');
const variables = projdVariables(projd);
const makefile = readFileSync(join(source, 'Makefile'), 'utf8');

const files = ['README.md', 'compose/README.md', 'k8s/README.md',
  ...readdirSync(join(source, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

const helpCache = new Map();
function help(path) {
  const key = path.join(' ');
  if (!helpCache.has(key)) {
    try {
      helpCache.set(key, execFileSync(projd, [...path, '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } }));
    } catch {
      helpCache.set(key, null);
    }
  }
  return helpCache.get(key);
}

function subcommands(helpText) {
  const at = helpText.indexOf('Subcommands:');
  if (at < 0) return new Set();
  return new Set(helpText.slice(at).split('\n').slice(1).map((l) => /^\s+([a-z][a-z-]*)\s/.exec(l)?.[1]).filter(Boolean));
}

function checkProjd(words, where) {
  const path = [];
  let i = 0;
  while (i < words.length && subcommands(help(path) ?? '').has(words[i])) path.push(words[i++]);
  if (!checks.ok(path.length > 0 || words.length === 0 || words[0].startsWith('-'),
    `${where}: "projd ${words.join(' ')}": ${words[0]} is a projd subcommand`)) return;
  const text = help(path);
  if (!checks.ok(text, `${where}: projd ${path.join(' ')} --help works`)) return;
  for (const w of words.slice(i)) {
    if (!w.startsWith('--')) continue;
    const flag = w.split('=')[0];
    checks.ok(text.includes(`${flag} `) || text.includes(`${flag},`) || text.includes(`${flag}\n`),
      `${where}: projd ${path.join(' ')} accepts ${flag}`);
  }
}

let commands = 0;
for (const file of files) {
  const lines = readFileSync(join(source, file), 'utf8').split('\n');
  let inBlock = false;
  for (let n = 0; n < lines.length; n++) {
    if (/^\s*```/.test(lines[n])) { inBlock = !inBlock; continue; }
    if (!inBlock) continue;
    let line = lines[n];
    while (line.endsWith('\\') && n + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++n];
    const where = `${file}:${n + 1}`;
    // Drop a prompt, comments, redirections and pipes; brackets of usage lines.
    const command = line.replace(/^\s*\$\s+/, '').replace(/\s#.*$/, '').split(/\s(?:\||&&|;|>|2>|<)\s?/)[0].trim();
    const words = command.replace(/[[\]]/g, ' ').match(/'[^']*'|"[^"]*"|\S+/g) ?? [];
    let w = 0;
    const assignments = [];
    while (w < words.length && /^[A-Z][A-Z0-9_]*=/.test(words[w])) assignments.push(words[w++].split('=')[0]);
    const program = words[w];
    const rest = words.slice(w + 1).map((x) => x.replace(/^['"]|['"]$/g, ''));
    if (/^(\.\/)?(build\/cmd\/)?projd$/.test(program ?? '')) {
      commands++;
      for (const a of assignments) checks.ok(variables.has(a), `${where}: ${a} is a variable projd reads`);
      checkProjd(rest, where);
    } else if (program === 'make' && rest.length && /^[a-z]/.test(rest[0])) {
      commands++;
      checks.ok(new RegExp(`^${rest[0]}:`, 'm').test(makefile), `${where}: make ${rest[0]} is a Makefile target`);
    } else if (program === 'kubectl' && (rest[0] === 'kustomize' || rest.includes('-k'))) {
      commands++;
      const dir = rest[0] === 'kustomize' ? rest[1] : rest[rest.indexOf('-k') + 1];
      checks.ok(dir && existsSync(join(source, dir)), `${where}: kubectl path ${dir} exists`);
    } else if (program === 'docker' && rest[0] === 'compose' && rest.includes('-f')) {
      commands++;
      const f = rest[rest.indexOf('-f') + 1];
      checks.ok(existsSync(join(source, f)), `${where}: compose file ${f} exists`);
    }
  }
}
checks.ok(commands > 20, `the docs show commands (${commands} checked)`);
checks.finish();
