/**
 * IAM for the locally deployed stacks (test infrastructure, not product code). moto does not
 * evaluate IAM, so the runner's HTTP front passes every raw SigV4 request of a deployed
 * function through here before forwarding it to moto:
 *
 *   const call = await describeCall(http, accountId, lookups); // action, ARN, context keys
 *   const verdict = await simulateCall(call, await loadRolePolicies(iam, roleArn), {
 *     resourcePolicyOf: (arn) => policies.get(arn), // KMS key, bus, queue, function policy
 *   });
 *   if (!verdict.allowed) answer403(verdict.explain());
 *
 * Simulated: the IAM requests AWS evaluates for each call keyrot's functions make (API
 * Gateway, KMS, EventBridge, DynamoDB, CloudFront, Scheduler, iam:PassRole; any other call
 * throws {@link UnknownCallError}), their request condition keys (encryption context, event
 * source and detail type, request tags and tag keys, DynamoDB's EnclosingOperation /
 * ReturnValues / Select, iam:PassedToService), resource tags when a lookup supplies them,
 * the principal's keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalTag/*, time,
 * aws:SecureTransport), identity policies (inline, managed, permissions boundary), resource
 * policies, cross-account evaluation (identity and resource policy both needed), KMS key
 * policy semantics, and trust policies for service principals. Evaluation is
 * `@cloud-copilot/iam-simulate`'s; where its handling of input departs from AWS, named
 * compensations apply ({@link AWS_DIFFERENCES}).
 *
 * Not simulated: SCPs, RCPs, session policies, VPC endpoint policies; KMS grants and alias
 * resolution (an alias KeyId throws); dynamodb:LeadingKeys and dynamodb:Attributes (they
 * need the table's key schema); aws:SourceIp, aws:userid and other network or session keys;
 * service-linked behaviour such as EventBridge's own delivery retries. Who may call which
 * API is all this decides: throttling, quotas and eventual consistency of IAM are not here.
 */
export {
  COVERED_OPERATIONS,
  credentialScope,
  describeCall,
  UndescribableCallError,
  UnknownCallError,
  type ContextValue,
  type CredentialScope,
  type DescribedCall,
  type HttpCall,
  type IamRequest,
  type ResourceLookups,
} from './describe-call';
export {
  AWS_DIFFERENCES,
  loadRolePolicies,
  parsePolicyDocument,
  sessionArnOf,
  simulate,
  simulateAssumeRole,
  simulateCall,
  simulateServiceRequest,
  type AssumingService,
  type CallSimulation,
  type ConditionValue,
  type Decision,
  type NamedPolicy,
  type PolicyDocument,
  type PolicyStatement,
  type PrincipalPolicies,
  type ServiceCaller,
  type SimulateCallOptions,
  type SimulateOptions,
  type SimulationResult,
} from './simulate';
