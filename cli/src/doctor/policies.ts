/**
 * Reading resource policies the way doctor needs: does a bus policy let an account put
 * keyrot's events, does a KMS key policy name a role for an action. Deliberately narrow: they
 * look for the grants keyrot's templates make (services/*\/resources/*.yml), and say which
 * part is missing; they are not an IAM evaluator (no Deny, no NotAction).
 */

interface Statement {
  readonly Sid?: string;
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: string | readonly string[];
  readonly Condition?: Record<string, Record<string, string | readonly string[]>>;
}

const list = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];

function statementsOf(policy: string | undefined): Statement[] {
  if (!policy) return [];
  try {
    const { Statement: statements } = JSON.parse(policy) as {
      Statement?: Statement | Statement[];
    };
    if (statements === undefined) return [];
    return Array.isArray(statements) ? statements : [statements];
  } catch {
    return [];
  }
}

const allows = (s: Statement, action: string): boolean => {
  const service = action.split(':')[0];
  return (
    s.Effect === 'Allow' &&
    list(s.Action).some((a) => a === action || a === '*' || a === `${service}:*`)
  );
};

/** The AWS principals a statement names (`*`, ARNs, account ids). */
function principals(s: Statement): string[] {
  if (s.Principal === '*') return ['*'];
  if (typeof s.Principal === 'object' && s.Principal !== null) {
    return list((s.Principal as { AWS?: unknown }).AWS);
  }
  return [];
}

const namesAccount = (principal: string, account: string): boolean =>
  principal === '*' || principal === account || principal === `arn:aws:iam::${account}:root`;

/** The values a condition key allows (any operator), or undefined when unconstrained. */
function conditionValues(s: Statement, key: string): string[] | undefined {
  for (const operator of Object.values(s.Condition ?? {})) {
    const values = operator[key];
    if (values !== undefined) return list(values);
  }
  return undefined;
}

/**
 * The detail types of `wanted` that the bus policy lets `account` put with source `source`
 * (a statement allowing events:PutEvents to the account, whose `events:source` and
 * `events:detail-type` conditions, if any, include them). Returns the ones missing.
 */
export function busPolicyMissing(
  policy: string | undefined,
  account: string,
  source: string,
  wanted: readonly string[],
): string[] {
  const granted = new Set<string>();
  for (const s of statementsOf(policy)) {
    if (!allows(s, 'events:PutEvents')) continue;
    if (!principals(s).some((p) => namesAccount(p, account))) continue;
    const sources = conditionValues(s, 'events:source');
    if (sources && !sources.includes(source)) continue;
    const types = conditionValues(s, 'events:detail-type');
    for (const type of wanted) if (!types || types.includes(type)) granted.add(type);
  }
  return wanted.filter((type) => !granted.has(type));
}

/**
 * Whether the key policy grants `action` to `roleArn`: as the principal itself, or to its
 * account with an `aws:PrincipalArn` condition naming it (keyrot's form).
 */
export function keyPolicyGrants(
  policy: string | undefined,
  action: string,
  roleArn: string,
): boolean {
  const account = /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(roleArn)?.[1] ?? '';
  return statementsOf(policy).some((s) => {
    if (!allows(s, action)) return false;
    const named = principals(s);
    if (named.includes(roleArn)) return true;
    if (!named.some((p) => namesAccount(p, account))) return false;
    const arns = conditionValues(s, 'aws:PrincipalArn');
    return arns !== undefined && arns.includes(roleArn);
  });
}
