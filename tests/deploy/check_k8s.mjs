// Renders every kustomization under k8s/ with `kubectl kustomize`, validates each rendered
// object against the Kubernetes OpenAPI schemas (kubernetes-models, offline) and checks the
// properties projd relies on: probes, graceful termination, rollout, security, config names.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Checks, args, durationMs, loadYamlDocuments, projdVariables } from './lib.mjs';

const { source, projd } = args();
const checks = new Checks('k8s');
const variables = projdVariables(projd);

// apiVersion/kind -> the module with its model class.
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const module = group === 'monitoring.coreos.com'
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
    : `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
  return (await import(module))[kind];
}

async function validate(object, where) {
  let Model;
  try {
    Model = await modelFor(object.apiVersion, object.kind);
  } catch (e) {
    return checks.ok(false, `${where}: no schema for ${object.apiVersion} ${object.kind} (${e.message})`);
  }
  try {
    new Model(object).validate();
    return checks.ok(true, where);
  } catch (e) {
    return checks.ok(false, `${where}: ${e.message}`);
  }
}

// The checker must be able to fail: a broken Deployment is refused.
{
  const Deployment = await modelFor('apps/v1', 'Deployment');
  let refused = false;
  try {
    new Deployment({
      metadata: { name: 'broken' },
      spec: { selector: {}, template: { spec: { containers: [{ name: 'c', ports: [{ containerPort: 'http' }] }] } } },
    }).validate();
  } catch {
    refused = true;
  }
  checks.ok(refused, 'the schema validation refuses a Deployment with a string containerPort');
}

function render(dir) {
  let text;
  try {
    text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error('kubectl not found: its built-in kustomize renders k8s/ (install kubectl)');
    throw e;
  }
  return loadYamlDocuments(text, dir);
}

function byKind(objects, kind) {
  return objects.filter((o) => o.kind === kind);
}

function containerEnv(container, name) {
  return (container.env || []).find((e) => e.name === name);
}

function checkRendered(label, objects) {
  const deployment = byKind(objects, 'Deployment')[0];
  const configMap = byKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('projd-config'));
  const job = byKind(objects, 'Job')[0];
  if (!checks.ok(deployment && configMap && job, `${label}: renders a Deployment, the projd-config ConfigMap and a Job`)) return;
  const config = configMap.data;

  // Every ConfigMap key is a variable projd reads.
  for (const key of Object.keys(config)) checks.ok(variables.has(key), `${label}: ConfigMap key ${key} is a projd variable`);

  const pod = deployment.spec.template.spec;
  const worker = pod.containers[0];
  checks.equal(deployment.spec.replicas, 3, `${label}: Deployment replicas`);
  checks.equal(worker.args, ['run'], `${label}: worker args`);
  checks.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, `${label}: maxUnavailable`);
  const shutdown = durationMs(config.SHUTDOWN_TIMEOUT ?? variables.get('SHUTDOWN_TIMEOUT'));
  checks.ok(pod.terminationGracePeriodSeconds * 1000 > shutdown + 5000,
    `${label}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}s exceeds SHUTDOWN_TIMEOUT ${shutdown}ms with margin`);
  checks.equal(containerEnv(worker, 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `${label}: POD_NAME from the downward API`);
  checks.equal(containerEnv(worker, 'WORKER_NAME')?.value, '$(POD_NAME)', `${label}: WORKER_NAME is the pod name`);
  checks.equal(containerEnv(worker, 'DATABASE_URL')?.valueFrom?.secretKeyRef?.key, 'DATABASE_URL', `${label}: DATABASE_URL from a Secret`);
  checks.equal(worker.envFrom?.[0]?.configMapRef?.name, configMap.metadata.name, `${label}: worker reads the ConfigMap`);

  const httpPort = Number(String(config.HTTP_ADDR ?? variables.get('HTTP_ADDR')).split(':').pop());
  const portNamed = (name) => worker.ports.find((p) => p.name === name)?.containerPort;
  checks.equal(portNamed('http'), httpPort, `${label}: container port http is HTTP_ADDR's port`);
  checks.equal(worker.livenessProbe?.httpGet?.path, '/healthz', `${label}: liveness probe`);
  checks.equal(worker.readinessProbe?.httpGet?.path, '/readyz', `${label}: readiness probe`);
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    checks.equal(worker[probe]?.httpGet?.port, 'http', `${label}: ${probe} port`);
  }
  checks.ok(worker.resources?.requests?.cpu && worker.resources?.requests?.memory && worker.resources?.limits?.memory,
    `${label}: resource requests and a memory limit`);
  for (const [what, spec] of [['worker', pod], ['migration', job.spec.template.spec]]) {
    checks.equal(spec.automountServiceAccountToken, false, `${label}: ${what} mounts no service-account token`);
    checks.equal(spec.securityContext?.runAsNonRoot, true, `${label}: ${what} runs as non-root`);
    const c = spec.containers[0];
    checks.equal(c.securityContext?.readOnlyRootFilesystem, true, `${label}: ${what} root filesystem read-only`);
    checks.equal(c.securityContext?.allowPrivilegeEscalation, false, `${label}: ${what} no privilege escalation`);
    checks.equal(c.image, worker.image, `${label}: ${what} uses the worker image`);
  }
  checks.equal(job.spec.template.spec.containers[0].args, ['migrate'], `${label}: the Job runs projd migrate`);

  // Service, PDB (and the optional HPA/ServiceMonitor) select the worker pods.
  const podLabels = deployment.spec.template.metadata.labels;
  const selects = (selector) => selector && Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  const service = byKind(objects, 'Service')[0];
  checks.ok(selects(service?.spec?.selector), `${label}: the Service selects the worker pods`);
  checks.equal(service?.spec?.ports?.[0]?.targetPort, 'http', `${label}: Service targets the http port`);
  checks.ok(selects(byKind(objects, 'PodDisruptionBudget')[0]?.spec?.selector?.matchLabels), `${label}: the PDB selects the worker pods`);
  for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
    const partitions = Number(config.PARTITIONS ?? variables.get('PARTITIONS'));
    checks.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name, `${label}: HPA scales the Deployment`);
    checks.ok(hpa.spec.maxReplicas <= partitions, `${label}: HPA maxReplicas ${hpa.spec.maxReplicas} <= PARTITIONS ${partitions}`);
    checks.ok(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas, `${label}: HPA bounds`);
  }
  for (const monitor of byKind(objects, 'ServiceMonitor')) {
    const serviceLabels = service.metadata.labels;
    checks.ok(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => serviceLabels[k] === v),
      `${label}: the ServiceMonitor selects the metrics Service`);
    checks.equal(monitor.spec.endpoints[0].port, service.spec.ports[0].name, `${label}: ServiceMonitor port`);
  }
  for (const secret of byKind(objects, 'Secret')) {
    checks.ok(secret.stringData?.DATABASE_URL || secret.data?.DATABASE_URL, `${label}: Secret ${secret.metadata.name} carries DATABASE_URL`);
  }
}

const kustomizations = [join(source, 'k8s/base'), join(source, 'k8s/overlays/example')];
for (const dir of kustomizations) {
  if (!checks.ok(existsSync(join(dir, 'kustomization.yaml')), `${dir} has a kustomization.yaml`)) continue;
  const objects = render(dir);
  console.log(`${dir}: ${objects.length} objects: ${objects.map((o) => o.kind).join(', ')}`);
  for (const o of objects) await validate(o, `${dir}: ${o.kind}/${o.metadata?.name}`);
  checkRendered(dir.slice(source.length + 1), objects);
}
const overlay = render(kustomizations[1]);
checks.ok(byKind(overlay, 'HorizontalPodAutoscaler').length === 1 && byKind(overlay, 'ServiceMonitor').length === 1,
  'the example overlay has the HPA and the ServiceMonitor');
checks.finish();
