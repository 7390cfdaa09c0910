/**
 * Mismatch explanation in AWS: the checker uploads the two files it compared to the artifacts
 * bucket under `diffs/<runId>/<target>/<asset>/{published,rebuilt}` and starts a build of the
 * diffoscope project (buildspecs/diffoscope.yml), which writes `report.html` and `report.txt` next
 * to them. The checker does not wait: it reports where the report will be.
 *
 * diffoscope parses hostile files, so the diff project's role is treated like a target build's:
 * it may read only the `published`/`rebuilt` inputs and write only `report.*` under `diffs/`
 * (lib/constructs/diff-job-project.ts). Nothing it writes is believed — the verdict is already made.
 *
 * The key layout and variable names shared with the buildspec and the construct are in
 * codebuild-diff-env.ts.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BuildError, VerifierError } from '../../core/errors';
import { consoleLinkFor, DIFF_ENV, DIFF_OBJECTS, diffIdempotencyToken, diffPrefixFor } from './codebuild-diff-env';

/** S3's limit for a single PutObject; larger inputs would need a multipart upload. */
const SINGLE_PUT_LIMIT = 5 * 1024 ** 3;

export interface CodeBuildDiffJobsOptions {
  /** the diffoscope CodeBuild project (fixed in IaC) */
  projectName: string;
  /** the artifacts bucket (the project's role may read/write only its diffs/ objects) */
  bucket: string;
  /** for console links. @default process.env.AWS_REGION */
  region?: string;
  /**
   * Inputs larger than this are not sent to a diff job (diffoscope would not finish on them, and
   * the checker's 15 minutes are better spent elsewhere). At most 5 GiB (single PUT).
   * @default 2 GiB
   */
  maxInputBytes?: number;
  /** time limit for uploading both inputs. @default 5 minutes */
  uploadTimeoutMs?: number;
  codebuild?: CodeBuildClient;
  s3?: S3Client;
}

export interface DiffJobRequest {
  runId: string;
  target: string;
  asset: string;
  publishedPath: string;
  rebuiltPath: string;
}

export interface StartedDiffJob {
  buildId: string;
  prefix: string;
  htmlReport: string;
  textReport: string;
  /** the sentence the checker reports (DIFFOSCOPE_REPORT finding) */
  location: string;
}

export class CodeBuildDiffJobs {
  private readonly codebuild: CodeBuildClient;
  private readonly s3: S3Client;
  private readonly maxInputBytes: number;

  constructor(private readonly options: CodeBuildDiffJobsOptions) {
    this.codebuild = options.codebuild ?? new CodeBuildClient({});
    this.s3 = options.s3 ?? new S3Client({});
    this.maxInputBytes = Math.min(options.maxInputBytes ?? 2 * 1024 ** 3, SINGLE_PUT_LIMIT);
  }

  /** Uploads both files (streamed, bounded in size and time), then starts the diff build. */
  async start(request: DiffJobRequest): Promise<StartedDiffJob> {
    const prefix = diffPrefixFor(request.runId, request.target, request.asset);
    const sizes = await Promise.all([stat(request.publishedPath), stat(request.rebuiltPath)]).then((s) => s.map((x) => x.size));
    const largest = Math.max(...sizes);
    if (largest > this.maxInputBytes) {
      throw new VerifierError(
        'DIFF_JOB_TOO_LARGE',
        `inputs too large for a diff job (${largest} bytes, limit ${this.maxInputBytes}); run \`release-verifier compare\` or diffoscope locally`,
      );
    }

    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.uploadTimeoutMs ?? 5 * 60_000);
    try {
      await this.upload(request.publishedPath, sizes[0]!, `${prefix}/${DIFF_OBJECTS.published}`, abort.signal);
      await this.upload(request.rebuiltPath, sizes[1]!, `${prefix}/${DIFF_OBJECTS.rebuilt}`, abort.signal);
    } finally {
      clearTimeout(timer);
    }

    // Only the prefix is passed: the bucket, the image, the buildspec and diffoscope's time limit
    // are the project's (IaC), and the checker's IAM policy denies a buildspec override.
    const out = await this.codebuild.send(
      new StartBuildCommand({
        projectName: this.options.projectName,
        idempotencyToken: diffIdempotencyToken(request.runId, request.target, request.asset),
        environmentVariablesOverride: [{ name: DIFF_ENV.prefix, value: prefix, type: 'PLAINTEXT' }],
      }),
    );
    const buildId = out.build?.id;
    if (!buildId) throw new BuildError(`StartBuild for ${this.options.projectName} returned no build id`);

    const htmlReport = `s3://${this.options.bucket}/${prefix}/${DIFF_OBJECTS.html}`;
    const textReport = `s3://${this.options.bucket}/${prefix}/${DIFF_OBJECTS.text}`;
    const consoleUrl = consoleLinkFor(this.options.bucket, `${prefix}/${DIFF_OBJECTS.html}`, this.options.region ?? process.env.AWS_REGION);
    const location = `${htmlReport} (console: ${consoleUrl}; text: ${textReport}) — written by diff build ${buildId} when it finishes`;
    return { buildId, prefix, htmlReport, textReport, location };
  }

  private async upload(path: string, size: number, key: string, signal: AbortSignal): Promise<void> {
    const body = createReadStream(path);
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body, ContentLength: size, ContentType: 'application/octet-stream' }),
        { abortSignal: signal },
      );
    } finally {
      body.destroy();
    }
  }
}
