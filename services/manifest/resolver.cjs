/* global require, module, __dirname, __filename, process */
/* eslint-disable @typescript-eslint/no-require-imports -- osls require()s this CommonJS file */
/**
 * osls variable resolver for the targets manifest, e.g. in a serverless.yml:
 *
 *   resources:
 *     - ${file(../manifest/resolver.cjs):keyIssuer}
 *   ...environment:
 *       TARGET_NAMES: ${file(../manifest/resolver.cjs):targetNames}
 *
 * Reads keyrot.targets.yml at the repository root (or the file KEYROT_TARGETS_FILE names),
 * validates it with keyrot's own schemas (shared/src/manifest.ts) and builds the resources with
 * services/manifest/stacks.ts. Both are TypeScript, loaded through tsx's require hook (a
 * devDependency), so `serverless package` needs no build step and no network. An invalid
 * manifest fails the packaging with a message naming the entry and the field.
 */
'use strict';
const path = require('node:path');
const { readFileSync } = require('node:fs');
const { parse } = require('yaml');
const tsx = require('tsx/cjs/api');

const { parseTargetsManifest, ManifestError } = tsx.require(
  '../../shared/src/manifest.ts',
  __filename,
);
const { schedulePolicyProblems } = tsx.require('../../shared/src/schedule.ts', __filename);
const stacks = tsx.require('./stacks.ts', __filename);

const ROOT = path.resolve(__dirname, '..', '..');

function manifestFile() {
  const given = process.env.KEYROT_TARGETS_FILE;
  return given ? path.resolve(given) : path.join(ROOT, 'keyrot.targets.yml');
}

function loadManifest() {
  const file = manifestFile();
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`targets manifest ${file} cannot be read: ${error.message}`, { cause: error });
  }
  let document;
  try {
    document = parse(text);
  } catch (error) {
    throw new Error(`targets manifest ${file} is not valid YAML: ${error.message}`, {
      cause: error,
    });
  }
  const relative = path.relative(ROOT, file);
  const source = relative.startsWith('..') ? file : relative;
  const manifest = parseTargetsManifest(document, source);
  // A schedule that cannot keep keys within the target's policy would alarm on itself.
  const problems = schedulePolicyProblems(manifest);
  if (problems.length > 0) throw new ManifestError(source, problems);
  return manifest;
}

async function params(resolveVariable, service) {
  const get = (name) => resolveVariable(name);
  const p = {
    stage: await get('sls:stage'),
    region: await get('param:region'),
    apiAccountId: String(await get('param:apiAccountId')),
    edgeAccountId: String(await get('param:edgeAccountId')),
    busName: await get('param:busName'),
    ledgerTableName: '',
  };
  if (service !== 'edge-updater') p.ledgerTableName = await get('param:ledgerTableName');
  if (service === 'key-issuer' || service === 'key-reaper') {
    p.edgeKmsKeyArn = await get('param:edgeKmsKeyArn');
  }
  if (service === 'key-reaper') {
    p.maxRotationMinutes = String(await get('param:maxRotationMinutes'));
  }
  return p;
}

const resourcesOf =
  (service) =>
  async ({ resolveVariable }) =>
    stacks.manifestResources(service, loadManifest(), await params(resolveVariable, service));

module.exports = {
  keyIssuer: resourcesOf('key-issuer'),
  edgeUpdater: resourcesOf('edge-updater'),
  keyReaper: resourcesOf('key-reaper'),
  healthCheckUrls: async () => stacks.healthCheckUrls(loadManifest()),
  targetNames: async () => stacks.targetNames(loadManifest()),
  driftGuardTargets: async () => stacks.driftGuardTargets(loadManifest()),
};
