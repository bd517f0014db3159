/**
 * Metadata of KEDA's `temporal` trigger. The CRD types trigger metadata as a string map only, so
 * these rules come from the scaler itself: kedacore/keda pkg/scalers/temporal_scaler.go
 * (`temporalMetadata` and its Validate) and https://keda.sh/docs/2.22/scalers/temporal/.
 * Parameters that KEDA also resolves from the target's environment accept `<name>FromEnv`.
 */
type Kind = 'string' | 'uint' | 'bool' | 'queueTypes';
const PARAMS: Record<string, { kind: Kind; fromEnv?: boolean }> = {
  endpoint: { kind: 'string', fromEnv: true },
  namespace: { kind: 'string', fromEnv: true },
  taskQueue: { kind: 'string', fromEnv: true },
  targetQueueSize: { kind: 'uint' },
  activationTargetQueueSize: { kind: 'uint' },
  queueTypes: { kind: 'queueTypes' },
  buildId: { kind: 'string', fromEnv: true },
  workerDeploymentName: { kind: 'string', fromEnv: true },
  workerDeploymentBuildId: { kind: 'string', fromEnv: true },
  selectAllActive: { kind: 'bool' },
  selectUnversioned: { kind: 'bool' },
  includeRunningWorkflowCount: { kind: 'bool' },
  workflowTaskQueueForCount: { kind: 'string' },
  minConnectTimeout: { kind: 'uint' },
  unsafeSsl: { kind: 'bool' },
  enableTLS: { kind: 'bool' },
  tlsServerName: { kind: 'string' },
};
const QUEUE_TYPES = new Set(['workflow', 'activity', 'nexus']);

/** Problems of one temporal trigger's metadata (unknown keys, missing required ones, bad values). */
export function temporalTriggerProblems(metadata: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const base = key.endsWith('FromEnv') ? key.slice(0, -'FromEnv'.length) : key;
    const param = PARAMS[base];
    if (!param || (base !== key && !param.fromEnv)) {
      problems.push(`unknown temporal trigger parameter ${key}`);
      continue;
    }
    if (typeof value !== 'string') {
      problems.push(`${key} must be a string`);
      continue;
    }
    if (base !== key) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) problems.push(`${key} must name an environment variable`);
      continue;
    }
    if (param.kind === 'uint' && !/^\d+$/.test(value)) problems.push(`${key} must be a non-negative integer`);
    if (param.kind === 'bool' && !['true', 'false'].includes(value))
      problems.push(`${key} must be true or false`);
    if (param.kind === 'queueTypes' && !value.split(',').every((t) => QUEUE_TYPES.has(t.trim())))
      problems.push(`queueTypes must be a comma-separated list of workflow, activity, nexus`);
  }
  for (const required of ['endpoint', 'taskQueue'])
    if (metadata[required] === undefined && metadata[`${required}FromEnv`] === undefined)
      problems.push(`${required} (or ${required}FromEnv) is required`);
  return problems;
}
