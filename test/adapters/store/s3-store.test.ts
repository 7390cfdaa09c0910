import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../../lambda/adapters/store/s3-store';
import { startLocalS3, type LocalS3 } from '../../support/s3-local';

describe('S3Store against s3rver (real SDK client)', () => {
  let s3: LocalS3;
  let store: S3Store;
  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('results-bucket');
    store = new S3Store({ bucket: 'results-bucket', client: s3.client() });
  });
  afterAll(async () => s3?.close());

  it('puts and gets a record, with a checksum header as Object Lock requires', async () => {
    expect(await store.put('runs/r1/plan.json', '{"a":1}')).toBe(true);
    expect(await store.get('runs/r1/plan.json')).toBe('{"a":1}');
  });

  it('returns null for a missing key', async () => {
    expect(await store.get('runs/none/summary.json')).toBeNull();
  });

  it('lists keys under a prefix, sorted, without neighbours sharing the prefix text', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `runs/r2/targets/t${String(i).padStart(2, '0')}.json`);
    for (const k of [...keys].reverse()) await store.put(k, '{}');
    await store.put('runs/r20/plan.json', '{}');
    expect(await store.list('runs/r2/')).toEqual(keys);
  });

  it('locates keys as s3:// URLs and refuses path tricks in keys', async () => {
    expect(store.locate('runs/x/summary.json')).toBe('s3://results-bucket/runs/x/summary.json');
    await expect(store.put('../escape.json', 'x')).rejects.toThrow(/invalid store key/);
    await expect(store.get('/abs.json')).rejects.toThrow(/invalid store key/);
  });
});

describe('S3Store conditional writes (S3 semantics simulated: s3rver ignores If-None-Match on PUT)', () => {
  // mock this instance only: the s3rver tests above use real clients
  const client = new S3Client({ region: 'us-east-1' });
  const s3 = mockClient(client);
  const store = new S3Store({ bucket: 'b', client, sleep: async () => {} });

  it('sends If-None-Match: * and a checksum algorithm', async () => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({});
    expect(await store.put('runs/r/summary.json', '{}', { ifNoneMatch: true })).toBe(true);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'b',
      Key: 'runs/r/summary.json',
      IfNoneMatch: '*',
      ChecksumAlgorithm: 'CRC32',
      ContentType: 'application/json',
    });
  });

  it('412 Precondition Failed → false (the key exists), no retry', async () => {
    s3.reset();
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      }),
    );
    expect(await store.put('runs/r/summary.json', '{}', { ifNoneMatch: true })).toBe(false);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });

  it('409 ConditionalRequestConflict is retried, then the outcome counts', async () => {
    s3.reset();
    const conflict = Object.assign(new Error('conflict'), { name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } });
    s3.on(PutObjectCommand)
      .rejectsOnce(conflict)
      .rejectsOnce(conflict)
      .rejects(Object.assign(new Error('exists'), { $metadata: { httpStatusCode: 412 } }));
    expect(await store.put('runs/r/summary.json', '{}', { ifNoneMatch: true })).toBe(false);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 3);
  });

  it('gives up after the configured number of 409s', async () => {
    s3.reset();
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('conflict'), { name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } }));
    const s = new S3Store({ bucket: 'b', client, sleep: async () => {}, conflictRetries: 2 });
    await expect(s.put('k.json', '{}', { ifNoneMatch: true })).rejects.toThrow(/conflict/);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 3);
  });

  // s3rver 3.7.1 builds continuation tokens with DES, which OpenSSL 3 (Node ≥ 17) refuses
  // (InternalError), so pagination is exercised with the mock.
  it('lists across pages with continuation tokens', async () => {
    s3.reset();
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      Contents: [{ Key: 'runs/a/2.json' }, { Key: 'runs/a/1.json' }],
      IsTruncated: true,
      NextContinuationToken: 't1',
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't1' }).resolves({ Contents: [{ Key: 'runs/a/3.json' }], IsTruncated: true, NextContinuationToken: 't2' });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({ Contents: [], IsTruncated: false });
    expect(await store.list('runs/a/')).toEqual(['runs/a/1.json', 'runs/a/2.json', 'runs/a/3.json']);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 3);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'b', Prefix: 'runs/a/', ContinuationToken: 't2' });
  });

  it('a 412 on an unconditional put is an error, not "exists"', async () => {
    s3.reset();
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('precondition'), { $metadata: { httpStatusCode: 412 } }));
    await expect(store.put('k.json', '{}')).rejects.toThrow(/precondition/);
  });
});
