import * as z from 'zod/mini';

/** API Gateway ids and CloudFront ids: what the services accept, checked before any call. */
const awsId = (what: string) =>
  z
    .string({ error: `must be a string (${what})` })
    .check(
      z.minLength(1, { error: `must not be empty (${what})` }),
      z.maxLength(128, { error: `too long (${what})` }),
      z.regex(/^[A-Za-z0-9_.:-]+$/, { error: `has characters a ${what} cannot have` }),
    );

/** A target's name (lock, ledger history, metrics dimension). */
export const targetNameSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(128),
    z.regex(/^[A-Za-z0-9_.:/=+@-]+$/, { error: 'may hold letters, digits and _.:/=+@- only' }),
  );
const apiKeyName = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(1024),
    z.regex(/^[^\s]/, { error: 'must not start with a space' }),
  );
const originId = z.string().check(z.minLength(1), z.maxLength(256));
const headerName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9-]+$/, { error: 'must be an HTTP header name' }));

/**
 * What keyrot rotates: the key named `apiKeyName` on usage plan `usagePlanId`, sent by
 * distribution `distributionId` to origin `originId` in header `headerName`.
 */
export const targetSchema = z.strictObject({
  /** Stable name of the target: lock, ledger history and key tags use it. */
  name: targetNameSchema,
  apiKeyName,
  usagePlanId: awsId('usage plan id'),
  distributionId: awsId('distribution id'),
  originId,
  headerName: z._default(headerName, 'x-api-key'),
});
export type Target = z.output<typeof targetSchema>;

/**
 * The seed's flat scheduler input, accepted as is:
 * `{"API_KEY_NAME","DISTRIBUTION_ID","ORIGIN_ID","USAGE_PLAN_ID"}`.
 * The target's name defaults to the key name.
 */
export const seedInputSchema = z.pipe(
  z.strictObject({
    API_KEY_NAME: apiKeyName,
    DISTRIBUTION_ID: awsId('distribution id'),
    ORIGIN_ID: originId,
    USAGE_PLAN_ID: awsId('usage plan id'),
    TARGET_NAME: z.optional(targetNameSchema),
    HEADER_NAME: z.optional(headerName),
  }),
  z.transform((seed): Target => ({
    name: seed.TARGET_NAME ?? seed.API_KEY_NAME,
    apiKeyName: seed.API_KEY_NAME,
    usagePlanId: seed.USAGE_PLAN_ID,
    distributionId: seed.DISTRIBUTION_ID,
    originId: seed.ORIGIN_ID,
    headerName: seed.HEADER_NAME ?? 'x-api-key',
  })),
);
export type SeedInput = z.input<typeof seedInputSchema>;
