/**
 * An S3-compatible server on loopback (s3rver) for tests that use the real SDK v3 S3 client.
 * s3rver ignores If-None-Match on PUT and mangles aws-chunked bodies, so clients are made with
 * checksums WHEN_REQUIRED and conditional-write conflicts are simulated with aws-sdk-client-mock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';

export interface LocalS3 {
  endpoint: string;
  client(): S3Client;
  /** a client on which PUT If-None-Match: * answers 412 when the key exists, as S3 does (s3rver
   * ignores the header); sequentially faithful, not atomic — races are tested with mocks */
  conditionalClient(): S3Client;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalS3(): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'relverify-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const addr = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = () =>
    new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  const conditionalClient = () => {
    const c = client();
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
          if (exists) throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
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
