import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag 3 acknowledgements for AwsSolutions-IAM5 (wildcards), one per finding, each with its
 * reason. Findings name resources the way cdk-nag prints them: `<LogicalId.Arn>/prefix/*`.
 */
export function acknowledgeWildcards(scope: IConstruct, findings: string[], reason: string): void {
  for (const f of findings) Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${f}]`, reason });
}

/** `<LogicalId.Arn>` of a resource, as cdk-nag renders an `Fn::GetAtt … Arn`. */
export function arnToken(element: IConstruct): string {
  return `<${Stack.of(element).getLogicalId(element as CfnElement)}.Arn>`;
}

/** `<LogicalId>` of a resource, as cdk-nag renders a `Ref`. */
export function refToken(element: IConstruct): string {
  return `<${Stack.of(element).getLogicalId(element as CfnElement)}>`;
}
