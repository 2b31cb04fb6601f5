/**
 * A deploy in its own process, for the SIGKILL test: runs the deployer library with an optional
 * plugins variant and prints each event as a JSON line, so the parent can kill it at a chosen step.
 * Usage: tsx deploy-child.ts <config.yaml> [<extra plugin module source>]
 */
import { libDeploy, pluginsVariant } from './deploy-helpers.js';

const [configPath, extra] = process.argv.slice(2);
const plugins = extra === undefined ? undefined : await pluginsVariant({ name: 'deploy_it_marker.py', source: extra });
try {
  const result = await libDeploy({
    configPath: configPath!,
    ...(plugins ? { plugins } : {}),
    emit: (event) =>
      process.stdout.write(`${JSON.stringify(event.type === 'planned' ? { type: 'planned', changes: event.plan.changes } : event)}\n`),
  });
  process.stdout.write(`${JSON.stringify({ type: 'result', changes: result.plan.changes, writes: result.applied?.writes ?? 0 })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ type: 'error', message: (error as Error).message })}\n`);
  process.exitCode = 1;
}
