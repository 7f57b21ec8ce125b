#!/usr/bin/env node
// Contract checks for schema.graphql, the API's published contract:
//   1. it is a valid schema (graphql-js, the reference implementation);
//   2. every type, field, argument, input field and enum value has a description, because
//      the descriptions are the API's documentation (GraphiQL, generated SDKs);
//   3. a breaking change against the base commit is named in CHANGELOG.md, so no client is
//      broken without notice. Breaking/dangerous is graphql-inspector's classification.
//
//   node checks/schema/check.mjs          (after `npm ci --prefix checks/schema`)
//   SCHEMA_FILE=other.graphql             check that file instead of <repo>/schema.graphql
//   SCHEMA_BASE_REF=origin/main           compare with that commit instead of HEAD~1
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CriticalityLevel, diff } from '@graphql-inspector/core';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  validateSchema,
} from 'graphql';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const schemaFile = resolve(process.env.SCHEMA_FILE ?? `${repoRoot}/schema.graphql`);
const baseRef = process.env.SCHEMA_BASE_REF || 'HEAD~1';
const inRepo = relative(repoRoot, schemaFile);
const shown = inRepo.startsWith('..') ? schemaFile : inRepo;

let failed = false;
// Everything goes to stdout, so CI logs read in order.
const fail = (message) => {
  failed = true;
  console.log(`✖ ${message}`);
};

// 1. Valid. Nothing else can be checked on a schema that does not build, so stop here.
let schema;
try {
  schema = buildSchema(readFileSync(schemaFile, 'utf8'));
} catch (error) {
  console.log(`✖ ${shown} does not build:\n${error}`);
  process.exit(1);
}
const invalid = validateSchema(schema);
if (invalid.length > 0) {
  console.log(`✖ ${shown} is not a valid schema:`);
  for (const error of invalid) console.log(`  - ${error.message}`);
  process.exit(1);
}
console.log(`✔ ${shown} is a valid schema`);

// 2. Described. Built-in scalars, directives and introspection types come with the spec's
// own descriptions, or none we could add.
const undescribed = [];
const need = (thing, label) => {
  if (!thing.description?.trim()) undescribed.push(label);
};
for (const type of Object.values(schema.getTypeMap())) {
  if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
  need(type, `type ${type.name}`);
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      need(field, `field ${type.name}.${field.name}`);
      for (const arg of field.args) need(arg, `argument ${type.name}.${field.name}(${arg.name}:)`);
    }
  } else if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) need(field, `input field ${type.name}.${field.name}`);
  } else if (isEnumType(type)) {
    for (const value of type.getValues()) need(value, `enum value ${type.name}.${value.name}`);
  }
}
for (const directive of schema.getDirectives()) {
  if (isSpecifiedDirective(directive)) continue;
  need(directive, `directive @${directive.name}`);
  for (const arg of directive.args) need(arg, `argument @${directive.name}(${arg.name}:)`);
}
if (undescribed.length > 0) {
  fail(`${undescribed.length} schema elements have no description (add a doc comment in the Rust code):`);
  for (const label of undescribed) console.log(`  - ${label}`);
} else {
  console.log('✔ every type, field, argument, input field and enum value has a description');
}

// 3. No unannounced breaking change.
const git = (...args) =>
  execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const atBase = (path) => {
  try {
    return git('show', `${baseRef}:${path}`);
  } catch (error) {
    return { missing: String(error.stderr || error.message).trim().split('\n')[0] };
  }
};

const baseSdl = atBase('schema.graphql');
if (typeof baseSdl !== 'string') {
  // A first commit, or a shallow clone (CI: fetch at least two commits, or set SCHEMA_BASE_REF).
  console.log(`- no schema.graphql at ${baseRef} (${baseSdl.missing}); skipping the breaking-change check`);
} else {
  const changes = await diff(buildSchema(baseSdl), schema);
  // Lines of CHANGELOG.md that are new since the base. Compared by content rather than with
  // `git diff`, so an uncommitted (even untracked) CHANGELOG.md counts too.
  const changelogFile = `${repoRoot}/CHANGELOG.md`;
  const baseChangelog = atBase('CHANGELOG.md');
  const oldLines = new Set(typeof baseChangelog === 'string' ? baseChangelog.split('\n') : []);
  const addedLines = (existsSync(changelogFile) ? readFileSync(changelogFile, 'utf8').split('\n') : [])
    .filter((line) => !oldLines.has(line));
  // `Query.clients` must not count as named by a line about `Query.clients.first`.
  const names = (line, path) =>
    new RegExp(`(?<![\\w.])${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\.?\\w)`).test(line);

  console.log(`${changes.length} schema change(s) since ${baseRef}`);
  const unannounced = [];
  for (const change of changes) {
    const level = change.criticality.level;
    // Messages quote descriptions, which span lines; keep one change per line.
    const message = change.message.replace(/\s+/g, ' ');
    console.log(`  ${level.padEnd(12)} ${change.path ?? '(schema)'}: ${message}`);
    if (level !== CriticalityLevel.Breaking) continue;
    const key = change.path ?? change.type;
    if (!addedLines.some((line) => names(line, key))) unannounced.push({ key, change });
  }
  for (const { key, change } of unannounced) {
    fail(`breaking change ${key} is not in CHANGELOG.md: ${change.message}`);
    if (change.criticality.reason) console.log(`    why it breaks clients: ${change.criticality.reason}`);
  }
  if (unannounced.length > 0) {
    console.log(
      `\nTo fix: add a line per breaking change under "## Unreleased" in CHANGELOG.md that names its\n` +
        `schema path and tells clients what to do, e.g.\n` +
        unannounced.map(({ key }) => `  - **Breaking:** \`${key}\` ...\n`).join('') +
        `or undo the change.`,
    );
  } else {
    console.log('✔ no unannounced breaking change');
  }
}

process.exit(failed ? 1 : 0);
