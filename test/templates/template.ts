/** Reading the CloudFormation templates `npm run package` wrote, for the template tests. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
  readonly [key: string]: unknown;
}
export interface Template {
  readonly Resources: Record<string, Resource>;
  readonly Outputs?: Record<string, Json>;
}

const DIR = path.resolve(__dirname, '..', '..', 'dist', 'templates');

export function loadTemplate(name: string): Template {
  const file = path.join(DIR, `${name}.json`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run package" first`);
  return JSON.parse(readFileSync(file, 'utf8')) as Template;
}

export function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** The properties of the template's only resource of `type` (throws if not exactly one). */
export function onlyResource<P = Record<string, Json>>(template: Template, type: string): P {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]![1].Properties as unknown as P;
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: Json;
  readonly Principal?: Json;
  readonly Condition?: Record<string, Record<string, Json>>;
}

export const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Every statement of every inline policy of every IAM role, tagged with its role. */
export function roleStatements(template: Template): { role: string; statement: Statement }[] {
  return resourcesOfType(template, 'AWS::IAM::Role').flatMap(([role, resource]) => {
    const policies = (resource.Properties?.Policies ?? []) as unknown as {
      PolicyDocument: { Statement: Statement[] };
    }[];
    return policies.flatMap((p) =>
      p.PolicyDocument.Statement.map((statement) => ({ role, statement })),
    );
  });
}

/**
 * The logical id of the role a function's `Role` names (`Fn::GetAtt [Role, Arn]` or
 * `Fn::Sub '${Role.Arn}'`), or undefined when it names none of the template's.
 */
export function roleIdOf(role: Json | undefined): string | undefined {
  if (typeof role !== 'object' || role === null || Array.isArray(role)) return undefined;
  const getAtt = role['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  const sub = role['Fn::Sub'];
  return typeof sub === 'string' ? /^\$\{([A-Za-z0-9]+)\.Arn\}$/.exec(sub)?.[1] : undefined;
}

/** Function logical id → the logical id of the role it runs with. */
export function functionRoleIds(template: Template): Record<string, string> {
  return Object.fromEntries(
    resourcesOfType(template, 'AWS::Lambda::Function').map(([id, fn]) => [
      id,
      roleIdOf(fn.Properties?.Role) ?? '',
    ]),
  );
}

/**
 * The statements of the functions' roles: of one function (by its logical id), or of every
 * function of the template.
 */
export function functionStatements(template: Template, functionId?: string): Statement[] {
  const roles = functionRoleIds(template);
  const wanted = new Set(functionId ? [roles[functionId]] : Object.values(roles));
  return roleStatements(template)
    .filter((s) => wanted.has(s.role))
    .map((s) => s.statement);
}

export const actionsOf = (statements: Statement[]) => statements.flatMap((s) => asList(s.Action));

/** A resource as text: strings as they are, intrinsic functions as JSON. */
export const resourceText = (resource: Json): string =>
  typeof resource === 'string' ? resource : JSON.stringify(resource);
