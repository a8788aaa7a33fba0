/**
 * The fleet's IAM simulation (harness/test/iam/fleet.test.ts) evaluates the roles that
 * services/manifest/stacks.ts builds for a 3-target manifest. This ties that proof to what
 * users deploy: the packaged templates hold exactly the roles the same builder makes for the
 * repository's manifest, statement for statement, and no other role a function runs as.
 */
import { functionRoles, type Service } from '../../services/manifest/stacks';
import { repositoryManifest, stackParams } from '../../harness/test/iam/keyrot-policies';
import { loadTemplate, resourcesOfType, roleIdOf, type Json } from './template';

const SERVICES: readonly Service[] = ['key-issuer', 'edge-updater', 'key-reaper'];
/** `npm run package` packages through serverless-compose.yml, whose default stage is dev. */
const PACKAGED_STAGE = 'dev';

describe.each(SERVICES)('the packaged %s template', (service) => {
  const template = loadTemplate(service);
  const params = { ...stackParams(service), stage: PACKAGED_STAGE };
  const built = functionRoles(service, repositoryManifest(), params);

  it('holds each function role exactly as the manifest builder makes it', () => {
    for (const [id, role] of Object.entries(built)) {
      expect({ id, role: template.Resources[id] }).toEqual({ id, role });
    }
  });

  it('runs every function as one of those roles', () => {
    const roles = resourcesOfType(template, 'AWS::Lambda::Function').map(
      ([fn, resource]) => [fn, roleIdOf(resource.Properties?.Role as Json)] as const,
    );
    expect(roles.length).toBe(Object.keys(built).length);
    for (const [fn, role] of roles) expect({ fn, role }).toEqual({ fn, role: expect.any(String) });
    expect(new Set(roles.map(([, role]) => role))).toEqual(new Set(Object.keys(built)));
  });
});
