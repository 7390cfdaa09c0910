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

/** The wildcards CodeBuild itself grants any project's role: its log streams, its report groups
 * (both named per build) and the use of the artifacts key (CB4). */
export function acknowledgeCodeBuildGrants(project: IConstruct, projectRef: string): void {
  acknowledgeWildcards(
    project,
    [
      `Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/${projectRef}:*`,
      `Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/${projectRef}-*`,
      'Action::kms:GenerateDataKey*',
      'Action::kms:ReEncrypt*',
    ],
    "CodeBuild's own grants for this project: its log streams and report groups (named per build), and the artifacts key it encrypts uploads with (CB4).",
  );
}
