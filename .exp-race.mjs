// Old `local up`, then how long until control-plane.json names the Airflow processes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const [cli, line] = process.argv.slice(2);
const root = mkdtempSync('/work/wt/stack/.test-tmp/race-');
const env = { ...process.env, MWAA_LOCAL_HOME: root, MWAA_LOCAL_VENVS: '/work/main/.local-stack/venvs' };
const up = spawnSync(process.execPath, [cli, 'local', 'up', '--airflow', line], { env, encoding: 'utf8' });
const t0 = Date.now();
let seen;
while (Date.now() - t0 < 30000) {
  try { const info = JSON.parse(readFileSync(join(root, 'control-plane.json'), 'utf8')); if (info.ready) { seen = Date.now() - t0; break; } } catch {}
  await new Promise((r) => setTimeout(r, 5));
}
console.log(`line ${line}: up exit ${up.status}; control-plane.json ready ${seen === undefined ? 'never (30 s)' : `${seen} ms`} after up returned`);
const st = spawnSync(process.execPath, [cli, 'local', 'status', '--json'], { env, encoding: 'utf8' });
const down = spawnSync(process.execPath, [cli, 'local', 'down', '--wipe'], { env, encoding: 'utf8' });
console.log(down.stderr.split('\n').filter((l) => l.includes('stop')).join('\n'));
