/**
 * The GitLab token secret: it exists (not scheduled for deletion), parses, and is not the deploy's
 * placeholder when the project is not public. The value is read only to compare it with the
 * placeholder; it is never printed, logged or returned.
 */
import { DescribeSecretCommand, GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { withDeadline } from '../../adapters/forge/deadline';
import { tokenFromSecretString } from '../../adapters/secrets';
import { errorMessage, VerifierError } from '../../core/errors';
import { cannot, failed, nameOf, ok, problem, type CheckResult, type DoctorContext } from './check';

/** Whether GitLab shows the project to an anonymous caller (its visibility), or why that is unknown. */
export type Visibility = { public: true } | { public: false; status: number } | { unknown: string };

/** The anonymous project lookup's bounds: one deadline for the whole exchange, and the body size. */
export const VISIBILITY_TIMEOUT_MS = 10_000;
export const MAX_VISIBILITY_BODY_BYTES = 256 * 1024;

export async function anonymousVisibility(
  gitlabUrl: string,
  project: string | number,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = VISIBILITY_TIMEOUT_MS,
): Promise<Visibility> {
  const url = `${gitlabUrl.replace(/\/+$/, '')}/api/v4/projects/${encodeURIComponent(String(project))}`;
  try {
    // one deadline over the request and the body (deadline.ts: AbortSignal.timeout can be collected
    // and never fire on Node 20; withDeadline also gives up on work that ignores the signal)
    return await withDeadline(
      timeoutMs,
      () => new Error(`GitLab did not answer within ${timeoutMs / 1000} s`),
      async (signal) => {
        const res = await fetchImpl(url, { headers: { accept: 'application/json' }, redirect: 'error', signal });
        if (res.status === 200) {
          const body = await boundedJson(res, MAX_VISIBILITY_BODY_BYTES);
          // an anonymous caller only ever sees public projects; the field confirms it
          return body.visibility === undefined || body.visibility === 'public' ? { public: true } : { public: false, status: 200 };
        }
        await res.body?.cancel().catch(() => undefined);
        if (res.status === 401 || res.status === 403 || res.status === 404) return { public: false, status: res.status };
        return { unknown: `GitLab answered ${res.status}` };
      },
    );
  } catch (err) {
    return { unknown: errorMessage(err) };
  }
}

/** The response's JSON object, read up to `max` bytes; a larger or unparsable body counts as `{}`
 * (as before: an anonymous 200 is already the public answer; the field only confirms it). */
async function boundedJson(res: Response, max: number): Promise<{ visibility?: string }> {
  if (!res.body) return {};
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`GitLab's project answer is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as { visibility?: string }) : {};
  } catch {
    return {};
  }
}

export async function tokenCheck(secrets: SecretsManagerClient, ctx: DoctorContext, fetchImpl?: typeof fetch): Promise<CheckResult> {
  const id = 'token-secret';
  const arn = ctx.stack.outputs.GitLabTokenSecretArn;
  if (!arn) return cannot(id, 'the stack has no GitLabTokenSecretArn output', 'redeploy the stack (cdk deploy)');
  try {
    const described = await secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    if (described.DeletedDate) {
      return problem(
        id,
        `the token secret ${described.Name ?? arn} is scheduled for deletion (${described.DeletedDate.toISOString()})`,
        `aws secretsmanager restore-secret --secret-id ${arn}`,
      );
    }
  } catch (err) {
    if (nameOf(err) === 'ResourceNotFoundException')
      return problem(
        id,
        `the token secret ${arn} does not exist`,
        'create it (the stack does when gitlab.token.secretName is unset: redeploy), then store the token',
      );
    return failed(id, 'describing the token secret', 'secretsmanager:DescribeSecret', err);
  }
  let token: string | undefined;
  try {
    const value = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
    if (value.SecretString === undefined)
      return problem(
        id,
        'the token secret has no string value (a binary secret)',
        `aws secretsmanager put-secret-value --secret-id ${arn} --secret-string '<token>'`,
      );
    // parsed and compared, never shown
    token = tokenFromSecretString(value.SecretString);
  } catch (err) {
    if (err instanceof VerifierError && err.code === 'TOKEN_SECRET_INVALID') {
      return problem(
        id,
        `the token secret is malformed: ${errorMessage(err)}`,
        `aws secretsmanager put-secret-value --secret-id ${arn} --secret-string '<token>'`,
      );
    }
    if (nameOf(err) === 'ResourceNotFoundException')
      return problem(id, `the token secret ${arn} has no value`, `aws secretsmanager put-secret-value --secret-id ${arn} --secret-string '<token>'`);
    return failed(id, 'reading the token secret to compare it with the placeholder', 'secretsmanager:GetSecretValue (and kms:Decrypt on the results key)', err);
  }
  if (token !== undefined) return ok(id, 'the token secret holds a token (not the placeholder; value not shown)');
  if (!ctx.config)
    return cannot(
      id,
      `the token secret holds the placeholder, and which project it is for is unknown (${ctx.configSource})`,
      'fix the launcher dry run, or pass --config FILE',
    );
  const visibility = await anonymousVisibility(ctx.config.gitlab.url, ctx.config.gitlab.project, fetchImpl);
  if ('unknown' in visibility) {
    return cannot(
      id,
      `the token secret holds the placeholder (anonymous access) and whether ${ctx.config.gitlab.project} is public could not be checked: ${visibility.unknown}`,
      `if the project is not public, store a read-only token: aws secretsmanager put-secret-value --secret-id ${arn} --secret-string '<token>'`,
    );
  }
  if (visibility.public) return ok(id, `the token secret holds the placeholder: ${ctx.config.gitlab.project} is public and is read anonymously`);
  return problem(
    id,
    `the token secret holds the placeholder but ${ctx.config.gitlab.project} is not public (GitLab answers an anonymous caller ${visibility.status}): every run will be INCOMPLETE`,
    `create a GitLab token with read_api and read_repository (Reporter), then: aws secretsmanager put-secret-value --secret-id ${arn} --secret-string '<token>'`,
  );
}
