/**
 * The contract of a mismatch diff job (lambda/adapters/builder/codebuild-diff-job.ts starts it,
 * buildspecs/diffoscope.yml runs it, lib/constructs/diff-job-project.ts scopes its role): the
 * environment variables and the key layout in the artifacts bucket. No AWS SDK here — the CDK app
 * imports it too.
 *
 *   diffs/<runId>/<target>/<asset>/published     uploaded by the checker (the release's file)
 *   diffs/<runId>/<target>/<asset>/rebuilt       uploaded by the checker (the rebuild's file)
 *   diffs/<runId>/<target>/<asset>/report.html   written by the diff build (diffoscope --html)
 *   diffs/<runId>/<target>/<asset>/report.txt    written by the diff build (diffoscope --text)
 */
import { createHash } from 'node:crypto';
import { VerifierError } from '../../core/errors';
import { RUN_ID_PATTERN } from '../../core/run/plan';

/** Environment variables of a diff build (none secret: they show in events and the console). */
export const DIFF_ENV = {
  /** set by the project (IaC): the artifacts bucket */
  bucket: 'RELVERIFY_DIFF_BUCKET',
  /** set by the project (IaC): diffoscope's own time limit in seconds */
  timeoutSeconds: 'RELVERIFY_DIFF_TIMEOUT_SECONDS',
  /** set by the checker: `diffs/<runId>/<target>/<asset>` — the buildspec refuses anything else */
  prefix: 'RELVERIFY_DIFF_PREFIX',
} as const;

/** Top-level prefix of diff inputs and reports in the artifacts bucket. */
export const DIFFS_ROOT = 'diffs';

/** Object names under a diff prefix. IAM grants are written against these exact names. */
export const DIFF_OBJECTS = {
  published: 'published',
  rebuilt: 'rebuilt',
  html: 'report.html',
  text: 'report.txt',
} as const;

/**
 * One key segment for an asset name: safe characters kept, anything else replaced — plus a short
 * hash of the original name whenever something was replaced, so two different names never share
 * a prefix.
 */
export function keySegment(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  if (safe === name && safe !== '.' && safe !== '..' && safe !== '') return safe;
  return `${safe.replace(/^\.+$/, '_')}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** Where one mismatch's inputs and reports live: `diffs/<runId>/<target>/<asset>`. */
export function diffPrefixFor(runId: string, target: string, asset: string): string {
  if (!RUN_ID_PATTERN.test(runId)) throw new VerifierError('DIFF_JOB_INVALID', `invalid run id "${runId}"`);
  return `${DIFFS_ROOT}/${runId}/${keySegment(target)}/${keySegment(asset)}`;
}

/** StartBuild idempotency token: the same run, target and asset give the same diff build
 * (within CodeBuild's 5-minute token lifetime); bounded length whatever the asset name. */
export function diffIdempotencyToken(runId: string, target: string, asset: string): string {
  return `diff.${runId}.${createHash('sha256').update(`${target}\0${asset}`).digest('hex').slice(0, 16)}`;
}

/** An S3 console link to one object (the report is private; the console signs the download). */
export function consoleLinkFor(bucket: string, key: string, region: string | undefined): string {
  const host = region ? `${region}.console.aws.amazon.com` : 'console.aws.amazon.com';
  const q = new URLSearchParams({ ...(region ? { region } : {}), bucketType: 'general', prefix: key });
  return `https://${host}/s3/object/${encodeURIComponent(bucket)}?${q.toString()}`;
}
