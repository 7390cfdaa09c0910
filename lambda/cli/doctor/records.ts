/**
 * The evidence: the last completed run (its age and verdict, from its summary in the results
 * bucket) and the bucket's Object Lock configuration against the configured mode and retention.
 */
import { GetObjectCommand, GetObjectLockConfigurationCommand, ListObjectsV2Command, type ObjectLockConfiguration, type S3Client } from '@aws-sdk/client-s3';
import { RUN_ID_PATTERN } from '../../core/run/plan';
import { runKeys } from '../../core/run/summary';
import { cannot, failed, nameOf, ok, problem, type CheckResult, type DoctorContext } from './check';
import { STORE_PREFIXES } from '../../core/run/store-layout';

const DAY = 86_400_000;
/** a weekly schedule plus a day, as the dead-man's switch (maxDaysWithoutRun) */
export const MAX_DAYS_WITHOUT_RUN = 8;
/** summaries tried, newest run first (runs still open have none yet) */
const RUNS_TRIED = 10;
const MAX_SUMMARY_BYTES = 64 * 1024 * 1024;

async function runIds(s3: S3Client, bucket: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: STORE_PREFIXES.runs, Delimiter: '/', ContinuationToken: token }));
    for (const p of out.CommonPrefixes ?? []) {
      const id = p.Prefix?.slice(STORE_PREFIXES.runs.length, -1);
      if (id && RUN_ID_PATTERN.test(id)) ids.push(id);
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token && ++pages < 100);
  // run ids sort by time
  return ids.sort().reverse();
}

export async function lastRunCheck(s3: S3Client, ctx: DoctorContext): Promise<CheckResult> {
  const id = 'last-run';
  const bucket = ctx.stack.outputs.ResultsBucketName;
  if (!bucket) return cannot(id, 'the stack has no ResultsBucketName output', 'redeploy the stack (cdk deploy)');
  let ids: string[];
  try {
    ids = await runIds(s3, bucket);
  } catch (err) {
    return failed(id, `listing runs in ${bucket}`, 's3:ListBucket on the results bucket', err);
  }
  for (const runId of ids.slice(0, RUNS_TRIED)) {
    const key = runKeys.summary(runId);
    let text: string;
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if ((out.ContentLength ?? 0) > MAX_SUMMARY_BYTES) return cannot(id, `s3://${bucket}/${key} is larger than a summary may be`, 'read it yourself');
      text = (await out.Body?.transformToString('utf-8')) ?? '';
    } catch (err) {
      if (nameOf(err) === 'NoSuchKey' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) continue; // still open
      return failed(id, `reading s3://${bucket}/${key}`, 's3:GetObject on the results bucket and kms:Decrypt on its key', err);
    }
    let summary: { verdict?: string; finishedAt?: string; release?: { tag?: string } };
    try {
      summary = JSON.parse(text) as typeof summary;
    } catch {
      return problem(id, `the summary of run ${runId} does not parse: s3://${bucket}/${key}`, 'look at the object; a damaged record is evidence, keep it');
    }
    const finished = Date.parse(summary.finishedAt ?? '');
    const ageDays = Number.isFinite(finished) ? (ctx.now.getTime() - finished) / DAY : NaN;
    const age = Number.isFinite(ageDays)
      ? `${ageDays < 1 ? `${Math.max(0, Math.round(ageDays * 24))} h` : `${Math.floor(ageDays)} days`} ago`
      : 'at an unknown time';
    const what = `run ${runId}${summary.release?.tag ? ` (release ${summary.release.tag})` : ''}: ${summary.verdict ?? 'no verdict'}, finished ${age}`;
    const report = `s3://${bucket}/${runKeys.html(runId)}`;
    if (summary.verdict !== 'VERIFIED')
      return problem(id, `${what} — the last completed run did not verify`, `read the report (${report}) and the alert it sent`);
    if (!(ageDays <= MAX_DAYS_WITHOUT_RUN))
      return problem(
        id,
        `${what} — more than ${MAX_DAYS_WITHOUT_RUN} days: the schedule may not be running`,
        'check the Schedule rule and the dead-letter queue (DeadLetterQueueUrl), then release-verifier run-now --stack ' + ctx.stack.name,
      );
    return ok(id, what);
  }
  return cannot(
    id,
    ids.length ? `no completed run among the ${Math.min(ids.length, RUNS_TRIED)} newest in ${bucket} (still running?)` : `no run yet in ${bucket}`,
    `start one: release-verifier run-now --stack ${ctx.stack.name}, then run doctor again when its alert arrived`,
  );
}

export async function objectLockCheck(s3: S3Client, ctx: DoctorContext): Promise<CheckResult> {
  const id = 'object-lock';
  const bucket = ctx.stack.outputs.ResultsBucketName;
  if (!bucket) return cannot(id, 'the stack has no ResultsBucketName output', 'redeploy the stack (cdk deploy)');
  let lock: ObjectLockConfiguration | undefined;
  try {
    lock = (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration;
  } catch (err) {
    if (nameOf(err) === 'ObjectLockConfigurationNotFoundError')
      return problem(
        id,
        `${bucket} has no Object Lock: the records can be changed or deleted`,
        'Object Lock can only be enabled on a new bucket: redeploy into a new stack',
      );
    return failed(id, `reading the Object Lock configuration of ${bucket}`, 's3:GetBucketObjectLockConfiguration on the results bucket', err);
  }
  if (lock?.ObjectLockEnabled !== 'Enabled')
    return problem(id, `${bucket}: Object Lock is not enabled`, 'redeploy into a new stack (Object Lock is set when a bucket is created)');
  const retention = lock.Rule?.DefaultRetention;
  if (!retention?.Mode)
    return problem(
      id,
      `${bucket}: Object Lock is enabled without a default retention: new records are not locked`,
      'redeploy the stack (it sets the default retention)',
    );
  const days = retention.Days ?? (retention.Years !== undefined ? retention.Years * 365 : undefined);
  const have = `${retention.Mode}, ${retention.Days !== undefined ? `${retention.Days} days` : `${retention.Years} years`}`;
  if (!ctx.config)
    return cannot(
      id,
      `${bucket}: Object Lock ${have}; the configured values are unknown (${ctx.configSource})`,
      'fix the launcher dry run, or pass --config FILE',
    );
  const want = ctx.config.aws;
  if (retention.Mode !== want.objectLockMode || days !== want.resultsRetentionDays) {
    return problem(
      id,
      `${bucket}: Object Lock ${have}, configured ${want.objectLockMode}, ${want.resultsRetentionDays} days`,
      'deploy the configuration (cdk deploy); the stack sets the default retention',
    );
  }
  return ok(id, `${bucket}: Object Lock ${have}, as configured`);
}
