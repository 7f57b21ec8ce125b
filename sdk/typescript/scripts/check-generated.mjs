// Fails when src/generated/ is not what `npm run generate` makes of schema.graphql and
// operations/ today. Regenerates into a temporary directory rather than asking git, so it
// works on a clean clone and does not depend on the files being committed yet.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const committed = 'src/generated';
const fresh = mkdtempSync(join(tmpdir(), 'favorites-sdk-codegen-'));
const read = (dir, name) => {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch {
    return null;
  }
};

const codegen = spawnSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--errors-only'], {
  env: { ...process.env, CODEGEN_OUT_DIR: fresh },
  stdio: 'inherit',
});
if (codegen.status !== 0) {
  // E.g. an operation that is no longer valid against the schema: the SDK would break callers.
  console.error('Code generation failed (see above): fix operations/ or the schema.');
  process.exitCode = 1;
} else {
  const names = new Set([...readdirSync(committed), ...readdirSync(fresh)]);
  const stale = [...names].filter((name) => read(committed, name) !== read(fresh, name));
  if (stale.length > 0) {
    console.error(`Out of date: ${stale.map((name) => `${committed}/${name}`).join(', ')}`);
    console.error('Run `npm run generate` in sdk/typescript and commit the result.');
    process.exitCode = 1;
  } else {
    console.log(`${committed}/ matches schema.graphql and operations/`);
  }
}
rmSync(fresh, { recursive: true, force: true });
