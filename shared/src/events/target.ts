import * as z from 'zod';

/** API Gateway ids and CloudFront ids: what the services accept, checked before any call. */
const awsId = (what: string) =>
  z
    .string({ error: `must be a string (${what})` })
    .min(1, { error: `must not be empty (${what})` })
    .max(128, { error: `too long (${what})` })
    .regex(/^[A-Za-z0-9_.:-]+$/, { error: `has characters a ${what} cannot have` });

/**
 * What keyrot rotates: the key named `apiKeyName` on usage plan `usagePlanId`, sent by
 * distribution `distributionId` to origin `originId` in header `headerName`.
 */
export const targetSchema = z.strictObject({
  /** Stable name of the target: lock, ledger history and key tags use it. */
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_.:/=+@-]+$/, { error: 'may hold letters, digits and _.:/=+@- only' }),
  apiKeyName: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[^\s]/, { error: 'must not start with a space' }),
  usagePlanId: awsId('usage plan id'),
  distributionId: awsId('distribution id'),
  originId: z.string().min(1).max(256),
  headerName: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, { error: 'must be an HTTP header name' })
    .default('x-api-key'),
});
export type Target = z.output<typeof targetSchema>;

/**
 * The seed's flat scheduler input, accepted as is:
 * `{"API_KEY_NAME","DISTRIBUTION_ID","ORIGIN_ID","USAGE_PLAN_ID"}`.
 * The target's name defaults to the key name.
 */
export const seedInputSchema = z
  .strictObject({
    API_KEY_NAME: targetSchema.shape.apiKeyName,
    DISTRIBUTION_ID: targetSchema.shape.distributionId,
    ORIGIN_ID: targetSchema.shape.originId,
    USAGE_PLAN_ID: targetSchema.shape.usagePlanId,
    TARGET_NAME: targetSchema.shape.name.optional(),
    HEADER_NAME: targetSchema.shape.headerName.optional(),
  })
  .transform((seed): Target => ({
    name: seed.TARGET_NAME ?? seed.API_KEY_NAME,
    apiKeyName: seed.API_KEY_NAME,
    usagePlanId: seed.USAGE_PLAN_ID,
    distributionId: seed.DISTRIBUTION_ID,
    originId: seed.ORIGIN_ID,
    headerName: seed.HEADER_NAME ?? 'x-api-key',
  }));
export type SeedInput = z.input<typeof seedInputSchema>;
