/**
 * An S3-compatible server on loopback (s3rver) for tests that use the real SDK v3 S3 client.
 * s3rver ignores If-None-Match on PUT and mangles aws-chunked bodies, so clients are made with
 * checksums WHEN_REQUIRED and conditional-write conflicts are simulated with aws-sdk-client-mock.
 *
 * Missing keys: S3 answers GetObject/HeadObject on a missing key with 404 only when the caller
 * may s3:ListBucket the bucket, and with 403 AccessDenied otherwise. s3rver answers 404 to
 * everyone; a client made with `canListBucket` (the IAM conformance suite asks the synthesized
 * template) gets S3's answer. Without it the caller is taken to have ListBucket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';

export interface CallerOptions {
  /** whether the caller may s3:ListBucket `bucket` (decides 404 vs 403 for a missing key). @default always */
  canListBucket?: (bucket: string) => boolean | Promise<boolean>;
}

export interface LocalS3 {
  endpoint: string;
  client(caller?: CallerOptions): S3Client;
  /** a client on which PUT If-None-Match: * answers 412 when the key exists, as S3 does (s3rver
   * ignores the header); sequentially faithful, not atomic — races are tested with mocks */
  conditionalClient(caller?: CallerOptions): S3Client;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalS3(): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'relverify-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const addr = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = (caller: CallerOptions = {}) => {
    const c = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const canList = caller.canListBucket;
    if (canList) {
      c.middlewareStack.add(
        (next, context) => async (args) => {
          try {
            return await next(args);
          } catch (err) {
            const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
            const bucket = (args.input as { Bucket?: string }).Bucket ?? '';
            if (status === 404 && (context.commandName === 'GetObjectCommand' || context.commandName === 'HeadObjectCommand') && !(await canList(bucket))) {
              throw Object.assign(new Error('Access Denied'), {
                name: 'AccessDenied',
                Code: 'AccessDenied',
                $fault: 'client',
                $metadata: { httpStatusCode: 403 },
              });
            }
            throw err;
          }
        },
        { step: 'initialize', priority: 'low', name: 'missingKeyAsS3Answers' },
      );
    }
    return c;
  };
  const conditionalClient = (caller: CallerOptions = {}) => {
    const c = client(caller);
    const probe = client();
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Bucket?: string; Key?: string; IfNoneMatch?: string };
        if (context.commandName === 'PutObjectCommand' && input.IfNoneMatch === '*') {
          const exists = await probe.send(new HeadObjectCommand({ Bucket: input.Bucket, Key: input.Key })).then(
            () => true,
            (err: { $metadata?: { httpStatusCode?: number } }) => {
              if (err.$metadata?.httpStatusCode === 404) return false;
              throw err;
            },
          );
          if (exists)
            throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
              name: 'PreconditionFailed',
              $metadata: { httpStatusCode: 412 },
            });
        }
        return next(args);
      },
      { step: 'initialize', name: 'emulateIfNoneMatch' },
    );
    return c;
  };
  return {
    endpoint,
    client,
    conditionalClient,
    createBucket: async (name) => {
      await client().send(new CreateBucketCommand({ Bucket: name }));
    },
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
