// Shared helpers of the deployment checks: a tiny assertion collector, YAML loading, Go
// durations and the variables `projd run --print-config` accepts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

// Collects failures and prints one line per check; exit code 1 when any failed.
export class Checks {
  constructor(name) {
    this.name = name;
    this.failed = 0;
    this.passed = 0;
  }
  ok(condition, what) {
    if (condition) {
      this.passed++;
    } else {
      this.failed++;
      console.log(`FAIL ${what}`);
    }
    return condition;
  }
  equal(actual, expected, what) {
    return this.ok(JSON.stringify(actual) === JSON.stringify(expected),
      `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
  finish() {
    console.log(`${this.name}: ${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed === 0 ? 0 : 1);
  }
}

export function loadYamlDocuments(text, where) {
  const docs = parseAllDocuments(text, { merge: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0].message}`);
    const value = d.toJS({ maxAliasCount: -1 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function loadYamlFile(path) {
  const docs = loadYamlDocuments(readFileSync(path, 'utf8'), path);
  if (docs.length !== 1) throw new Error(`${path}: expected one YAML document, found ${docs.length}`);
  return docs[0];
}

// Go duration syntax or bare milliseconds, as projd reads it; returns milliseconds.
export function durationMs(text) {
  const s = String(text).trim();
  if (/^\d+$/.test(s)) return Number(s);
  const units = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  let rest = s;
  while (rest.length) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`not a duration: ${text}`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

// The variables `projd run` reads, with their defaults, from `--print-config`.
export function projdVariables(projd) {
  const text = execFileSync(projd, ['run', '--print-config'], {
    env: { PATH: process.env.PATH }, encoding: 'utf8',
  });
  const vars = new Map();
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)\s+(\S+)\s*(.*)$/.exec(line);
    if (m) vars.set(m[1], m[3].trim());
  }
  if (vars.size < 10) throw new Error(`projd run --print-config printed too little:\n${text}`);
  return vars;
}
