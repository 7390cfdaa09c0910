/**
 * The Store port on S3 (the results bucket). Run records are small JSON documents; "write once"
 * is S3's conditional write (`If-None-Match: *`): 412 means the key already exists → `false`,
 * 409 (a concurrent conditional write in flight) is retried.
 *
 * Object Lock: a bucket with a default retention requires an integrity checksum on every PUT, so
 * each put names a checksum algorithm explicitly (the SDK's default behaviour can be switched off
 * with `requestChecksumCalculation: 'WHEN_REQUIRED'`, e.g. against a local S3 stand-in).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type ChecksumAlgorithm } from '@aws-sdk/client-s3';
import { VerifierError } from '../../core/errors';
import type { Store } from '../../core/ports';

export interface S3StoreOptions {
  bucket: string;
  /** @default a new S3Client for the Lambda's region */
  client?: S3Client;
  /** attempts on 409 ConditionalRequestConflict before giving up. @default 5 */
  conflictRetries?: number;
  /** records larger than this are refused on read (they are JSON documents, not artifacts). @default 64 MiB */
  maxRecordBytes?: number;
  /** checksum sent with every PUT (Object Lock requires one). @default 'CRC32' */
  checksumAlgorithm?: ChecksumAlgorithm | 'none';
  /** waits between conflict retries (tests pass a no-op). @default setTimeout-based backoff */
  sleep?: (ms: number) => Promise<void>;
}

interface AwsLikeError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatusOf(err: unknown): number | undefined {
  return (err as AwsLikeError | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const e = err as AwsLikeError;
  return e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey' || e?.name === 'NotFound' || httpStatusOf(err) === 404;
}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as AwsLikeError;
  return httpStatusOf(err) === 412 || e?.name === 'PreconditionFailed';
}

/** 409 on a conditional PUT: S3's ConditionalRequestConflict (another conditional write to the key is in flight). */
function isConditionalConflict(err: unknown): boolean {
  return httpStatusOf(err) === 409;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Keys are plain `/`-separated relative names; anything else is a programming error, refused. */
function checkKey(key: string): string {
  if (!key || key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.') || key.includes('\0')) {
    throw new VerifierError('STORE_KEY_INVALID', `invalid store key "${key}"`);
  }
  return key;
}

export class S3Store implements Store {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly conflictRetries: number;
  private readonly maxRecordBytes: number;
  private readonly checksum: ChecksumAlgorithm | undefined;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.client = options.client ?? new S3Client({});
    this.conflictRetries = options.conflictRetries ?? 5;
    this.maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
    this.checksum = options.checksumAlgorithm === 'none' ? undefined : (options.checksumAlgorithm ?? 'CRC32');
    this.sleep = options.sleep ?? defaultSleep;
  }

  async put(key: string, body: string | Uint8Array, options: { ifNoneMatch?: boolean; contentType?: string } = {}): Promise<boolean> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: checkKey(key),
      Body: body,
      ContentType: options.contentType ?? (key.endsWith('.json') ? 'application/json' : key.endsWith('.html') ? 'text/html; charset=utf-8' : undefined),
      IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
      ChecksumAlgorithm: this.checksum,
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(command);
        return true;
      } catch (err) {
        if (options.ifNoneMatch && isPreconditionFailed(err)) return false;
        // 409: another conditional write to this key is in flight; S3 asks the caller to retry.
        if (options.ifNoneMatch && isConditionalConflict(err) && attempt < this.conflictRetries) {
          await this.sleep(Math.min(2000, 100 * 2 ** attempt) + Math.floor(Math.random() * 100));
          continue;
        }
        throw err;
      }
    }
  }

  async get(key: string): Promise<string | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }));
      if (out.ContentLength !== undefined && out.ContentLength > this.maxRecordBytes) {
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new VerifierError(
          'STORE_RECORD_TOO_LARGE',
          `s3://${this.bucket}/${key} is ${out.ContentLength} bytes, more than a run record may be (${this.maxRecordBytes})`,
        );
      }
      if (!out.Body) return '';
      return await out.Body.transformToString('utf-8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}
