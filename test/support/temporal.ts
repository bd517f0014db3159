import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;
/** Worker logs at ERROR only so test output stays readable. */
export function quietRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export { registerSearchAttributes } from '../../dev/stack/search-attributes';
