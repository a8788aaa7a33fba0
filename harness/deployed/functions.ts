/**
 * The deployed functions, read back from the stacks as Lambda would run them: configuration
 * (handler, runtime, environment, role, timeout, memory, reserved concurrency), the
 * asynchronous invocation settings (retries, on-failure destination) and the code, fetched
 * from the deployment bucket the template names and checked against `CodeSha256`. Test
 * infrastructure only.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CloudFormationClient,
  GetTemplateCommand,
  paginateListStackResources,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import {
  GetFunctionCommand,
  GetFunctionEventInvokeConfigCommand,
  LambdaClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fromBuffer, type Entry, type ZipFile } from 'yauzl';
import { clientConfig, type AccountSession } from '../accounts';

export interface DeployedFunction {
  /** Which service's stack it belongs to (e.g. `key-issuer`). */
  readonly service: string;
  readonly stackName: string;
  /** The function's key in serverless.yml (`issueKey`), from its logical id. */
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly accountId: string;
  readonly region: string;
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly roleArn: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly reservedConcurrency?: number;
  readonly logGroupName: string;
  /** Where the zip was extracted (`LAMBDA_TASK_ROOT`). */
  readonly codeDir: string;
  /** Lambda's asynchronous invocation: attempts after the first, and where failures go. */
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
  readonly onFailure?: string;
}

/** One deployed stack, and the account it is in. */
export interface StackRef {
  readonly service: string;
  readonly stackName: string;
  readonly session: AccountSession;
}

/** Lambda's defaults for asynchronous invocation without an EventInvokeConfig. */
const DEFAULT_RETRY_ATTEMPTS = 2;
const DEFAULT_EVENT_AGE_SECONDS = 21_600;

/** Reads every function of the stacks and extracts its code under `workDir`. */
export async function discoverFunctions(
  stacks: readonly StackRef[],
  workDir: string,
): Promise<DeployedFunction[]> {
  const found: DeployedFunction[] = [];
  for (const stack of stacks) {
    const config = clientConfig(stack.session);
    const cfn = new CloudFormationClient(config);
    const lambda = new LambdaClient(config);
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    try {
      const resources: StackResourceSummary[] = [];
      for await (const page of paginateListStackResources(
        { client: cfn },
        { StackName: stack.stackName },
      )) {
        resources.push(...(page.StackResourceSummaries ?? []));
      }
      const { TemplateBody } = await cfn.send(
        new GetTemplateCommand({ StackName: stack.stackName }),
      );
      const template = JSON.parse(TemplateBody ?? '{}') as Template;
      const physicalId = (logicalId: string) =>
        resources.find((r) => r.LogicalResourceId === logicalId)?.PhysicalResourceId;
      for (const resource of resources) {
        if (resource.ResourceType !== 'AWS::Lambda::Function') continue;
        const logicalId = resource.LogicalResourceId!;
        const fn = await lambda.send(
          new GetFunctionCommand({ FunctionName: resource.PhysicalResourceId }),
        );
        const c = fn.Configuration!;
        const code = template.Resources[logicalId]?.Properties?.Code;
        const bucket = resolveRef(code?.S3Bucket, physicalId);
        if (!bucket || typeof code?.S3Key !== 'string') {
          throw new Error(
            `${stack.stackName}: ${logicalId} has no S3 code location in its template`,
          );
        }
        const zip = await fetchObject(s3, bucket, code.S3Key);
        const sha = createHash('sha256').update(zip).digest('base64');
        if (sha !== c.CodeSha256) {
          throw new Error(
            `${c.FunctionName}: s3://${bucket}/${code.S3Key} has sha256 ${sha}, the function's CodeSha256 is ${c.CodeSha256}`,
          );
        }
        const codeDir = path.join(workDir, c.FunctionName!);
        await extractZip(zip, codeDir);
        const invoke = await lambda
          .send(new GetFunctionEventInvokeConfigCommand({ FunctionName: c.FunctionName }))
          .catch((error: unknown) => {
            if (error instanceof ResourceNotFoundException) return undefined;
            throw error;
          });
        found.push({
          service: stack.service,
          stackName: stack.stackName,
          logicalId,
          name: c.FunctionName!,
          arn: c.FunctionArn!,
          accountId: stack.session.accountId,
          region: stack.session.region,
          handler: c.Handler!,
          runtime: c.Runtime!,
          timeoutSeconds: c.Timeout ?? 3,
          memorySize: c.MemorySize ?? 128,
          roleArn: c.Role!,
          environment: c.Environment?.Variables ?? {},
          ...(fn.Concurrency?.ReservedConcurrentExecutions !== undefined && {
            reservedConcurrency: fn.Concurrency.ReservedConcurrentExecutions,
          }),
          logGroupName: c.LoggingConfig?.LogGroup ?? `/aws/lambda/${c.FunctionName}`,
          codeDir,
          maximumRetryAttempts: invoke?.MaximumRetryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
          maximumEventAgeSeconds: invoke?.MaximumEventAgeInSeconds ?? DEFAULT_EVENT_AGE_SECONDS,
          ...(invoke?.DestinationConfig?.OnFailure?.Destination && {
            onFailure: invoke.DestinationConfig.OnFailure.Destination,
          }),
        });
      }
    } finally {
      cfn.destroy();
      lambda.destroy();
      s3.destroy();
    }
  }
  return found;
}

interface Template {
  Resources: Record<
    string,
    { Type: string; Properties?: { Code?: { S3Bucket?: unknown; S3Key?: unknown } } }
  >;
}

function resolveRef(value: unknown, physicalId: (logicalId: string) => string | undefined) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Ref' in value && typeof value.Ref === 'string') {
    return physicalId(value.Ref);
  }
  return undefined;
}

async function fetchObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Extracts a zip (files only; Lambda's zips hold no links) into `dir`. */
export function extractZip(zip: Buffer, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fromBuffer(zip, { lazyEntries: true }, (error: Error | null, file: ZipFile) => {
      if (error) return reject(error);
      file.on('entry', (entry: Entry) => {
        const target = path.resolve(dir, entry.fileName);
        if (!target.startsWith(path.resolve(dir) + path.sep)) {
          return reject(new Error(`zip entry ${entry.fileName} leaves ${dir}`));
        }
        if (entry.fileName.endsWith('/')) {
          mkdirSync(target, { recursive: true });
          return file.readEntry();
        }
        file.openReadStream(entry, (streamError, stream) => {
          if (streamError) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            mkdirSync(path.dirname(target), { recursive: true });
            writeFileSync(target, Buffer.concat(chunks));
            file.readEntry();
          });
          stream.on('error', reject);
        });
      });
      file.on('end', () => resolve());
      file.readEntry();
    });
  });
}
