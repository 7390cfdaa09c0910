/**
 * Would AWS allow this request? Evaluated by @cloud-copilot/iam-simulate against the synthesized
 * template's policies (never a mocked answer): the caller's identity policies and permissions
 * boundary, and the resource policy of the resource (bucket, key, topic, queue, secret).
 *
 * The evaluator does not fill in global condition keys from the request yet, so the caller's
 * keys are set here the way AWS sets them for a role session over TLS (aws:PrincipalArn,
 * aws:PrincipalAccount, aws:SecureTransport, …) and for a service principal acting for this
 * account (aws:SourceAccount, aws:SourceArn).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT } from './cfn-resolve';
import type { RolePolicies, TemplatePolicies } from './policies';

export type Caller = { kind: 'role'; role: RolePolicies } | { kind: 'service'; service: string; sourceArn?: string };

export interface IamRequest {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface Decision {
  allowed: boolean;
  result: string;
  /** validation errors of the simulation (an unknown action, resource type or context key) */
  errors?: unknown;
}

export async function evaluate(policies: TemplatePolicies, caller: Caller, request: IamRequest): Promise<Decision> {
  const base: Record<string, string | string[]> =
    caller.kind === 'role'
      ? { 'aws:PrincipalArn': caller.role.arn, 'aws:PrincipalAccount': ACCOUNT, 'aws:PrincipalType': 'AssumedRole', 'aws:SecureTransport': 'true' }
      : {
          'aws:SourceAccount': ACCOUNT,
          ...(caller.sourceArn ? { 'aws:SourceArn': caller.sourceArn } : {}),
          'aws:PrincipalServiceName': caller.service,
          'aws:SecureTransport': 'true',
        };
  const response = await runSimulation(
    {
      request: {
        principal: caller.kind === 'role' ? caller.role.arn : caller.service,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: { ...base, ...request.context },
      },
      identityPolicies: caller.kind === 'role' ? caller.role.identity : [],
      permissionBoundaryPolicies: caller.kind === 'role' && caller.role.boundary ? [caller.role.boundary] : undefined,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policies.resourcePolicyFor(request.resource),
    },
    {},
  );
  if (response.resultType === 'error') return { allowed: false, result: 'error', errors: response.errors };
  return { allowed: response.overallResult === 'Allowed', result: response.overallResult };
}
