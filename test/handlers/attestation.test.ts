/**
 * The checker's signed attestation: KMS Sign behind aws-sdk-client-mock, answered with a real
 * P-256 key (node:crypto for RAW messages; `openssl pkeyutl` signs the SHA-256 digest for DIGEST,
 * as KMS does), and every envelope verified independently — node:crypto over the DSSE PAE, and the
 * README's own openssl commands. A signing failure keeps the summary and the alert (with a notice).
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient, SignCommand, type SignCommandInput } from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../lambda/adapters/builder/codebuild-results';
import { LocalArtifactSource } from '../../lambda/adapters/builder/local-artifacts';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { KMS_RAW_MESSAGE_LIMIT, KmsAttestationSigner } from '../../lambda/adapters/signer/kms-signer';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { attestationKeys, dssePae, statementBytes, type DsseEnvelope } from '../../lambda/core/attestation';
import { configurationDigest, policyRef, vsaBytes, vsaKeys } from '../../lambda/core/vsa';
import { finding } from '../../lambda/core/findings';
import type { RunPlan } from '../../lambda/core/run/plan';
import type { BuildResult } from '../../lambda/core/ports';
import type { RunReport } from '../../lambda/core/report';
import { runKeys } from '../../lambda/core/run/summary';
import { REPO_ROOT } from '../../lib/paths';
import { check, type CheckerDeps } from '../../lambda/handlers/checker';
import { awsEngine } from '../../lambda/handlers/aws-engine';
import { status, toolsAvailable } from '../support/tools';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { DirectoryForge, IMAGE, planFor, testConfig } from './support';

const formats = async () => (await import('../../lambda/formats/ops')).formatOps;
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SHA = '2'.repeat(40);
const RUN = '20260302T000000Z-bbbbbb';

const hasOpenssl = toolsAvailable('openssl');
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const kmsClient = new KMSClient({ region: 'eu-west-1' });
const kms = mockClient(kmsClient);
const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);
const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });

let s3: LocalS3;
let work: string;
let keyPem: string;
let buckets = 0;

/** KMS Sign as the service does it for an ECC_NIST_P256 key: DER ECDSA over SHA-256(message) or over the given digest. */
function kmsSign(input: SignCommandInput): { KeyId: string; Signature: Uint8Array; SigningAlgorithm: 'ECDSA_SHA_256' } {
  if (input.KeyId !== KEY_ARN || input.SigningAlgorithm !== 'ECDSA_SHA_256')
    throw Object.assign(new Error('InvalidKeyUsageException'), { name: 'InvalidKeyUsageException' });
  const message = Buffer.from(input.Message!);
  let signature: Buffer;
  if (input.MessageType === 'RAW') {
    if (message.length > KMS_RAW_MESSAGE_LIMIT) throw Object.assign(new Error('Message exceeds 4096 bytes'), { name: 'ValidationException' });
    signature = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
  } else if (input.MessageType === 'DIGEST') {
    if (message.length !== 32) throw Object.assign(new Error('Digest must be 32 bytes'), { name: 'ValidationException' });
    // the raw digest signed by the reference tool (binary stdout: not through the text helper)
    signature = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyPem], { input: message });
  } else throw new Error(`unexpected MessageType ${input.MessageType}`);
  return { KeyId: KEY_ARN, Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' };
}

/** Independent check: node:crypto verifies the DER signature over the PAE with the public key only. */
function verifies(envelope: DsseEnvelope, key: KeyObject = publicKey): boolean {
  const pae = dssePae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  return verify('sha256', pae, { key, dsaEncoding: 'der' }, Buffer.from(envelope.signatures[0]!.sig, 'base64'));
}

/**
 * The README's own commands (the "Attestations" block, without the `aws` lines that fetch the key
 * and the envelope): PAE with printf, then `openssl dgst -sha256 -verify`. Returns openssl's exit status.
 */
async function opensslVerifies(envelope: DsseEnvelope): Promise<number> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  // the section's openssl-only block (the one that ends in `openssl dgst -verify`)
  const section = readme.slice(readme.indexOf('**Attestations.**'));
  const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => /^openssl dgst -sha256 -verify /m.test(b));
  if (!block) throw new Error('README.md: no Attestations command block');
  const commands = block.split('\n').filter((l) => l.trim() && !l.startsWith('aws '));
  expect(commands.at(-1)).toMatch(/^openssl dgst -sha256 -verify /);
  const dir = await mkdtemp(join(work, 'verify-'));
  await writeFile(join(dir, 'attestation.dsse.json'), JSON.stringify(envelope));
  await writeFile(join(dir, 'key.der'), publicKey.export({ type: 'spki', format: 'der' })); // what get-public-key returns
  return status('sh', ['-c', ['set -e', ...commands].join('\n')], { cwd: dir });
}

beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'relverify-attestation-'));
  keyPem = join(work, 'attestation-key.pem');
  await writeFile(keyPem, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await mkdir(join(work, 'assets'));
  await writeFile(join(work, 'assets', 'one-2.0.0.txt'), 'published one\n');
  await writeFile(join(work, 'rebuilt-one.txt'), 'published one\n');
});
afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  kms.reset();
  kms.on(SignCommand).callsFake(kmsSign);
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

async function freshStore(): Promise<S3Store> {
  const name = `attest-${++buckets}-bucket`;
  await s3.createBucket(name);
  return new S3Store({ bucket: name, client: s3.conditionalClient() });
}

const config = testConfig({
  targets: [
    {
      name: 'one',
      image: IMAGE,
      command: 'true',
      artifacts: [{ path: 'out/one-{version}.txt', asset: 'one-{version}.txt', signature: { scheme: 'none', reason: 'test' } }],
    },
  ],
});
const plan: RunPlan = planFor(config, RUN, SHA);
const event = {
  source: 'aws.codebuild',
  'detail-type': 'CodeBuild Build State Change',
  detail: { 'build-id': 'arn:aws:codebuild:eu-west-1:123456789012:build/p-one:u1', 'build-status': 'SUCCEEDED', 'project-name': 'p-one' },
};
const record: BuildRecord = { runId: RUN, target: 'one', build: { id: 'p-one:u1', buildStatus: 'SUCCEEDED' } };

function checkerDeps(store: S3Store, errors: unknown[], overrides: Partial<CheckerDeps> = {}): CheckerDeps {
  const artifacts: BuildResult['artifacts'] = { fetch: (_p, dest, limits) => new LocalArtifactSource(work).fetch('rebuilt-one.txt', dest, limits) };
  return {
    config,
    store,
    notifier,
    results: {
      read: async () => record,
      toBuildResult: (rec, image) => ({
        target: rec.target,
        buildId: rec.build.id!,
        sandbox: 'codebuild' as const,
        status: 'SUCCEEDED',
        image: { ref: image, enforced: true },
        artifacts,
      }),
    },
    forge: async () =>
      new DirectoryForge({ tag: 'v2.0.0', name: 'v2.0.0', commitSha: SHA, tagCommitSha: SHA, links: [] }, join(work, 'assets'), '/nonexistent/repo'),
    formats,
    workRoot: work,
    signer: new KmsAttestationSigner({ keyArn: KEY_ARN, client: kmsClient }),
    logger: { info: () => {}, warn: () => {}, error: (...args: unknown[]) => void errors.push(args) } as never,
    ...overrides,
  };
}

const alertBodies = () => sns.commandCalls(PublishCommand).map((c) => (JSON.parse(c.args[0].input.Message!) as { email: string }).email);

describe.skipIf(!hasOpenssl)('checker attestation (KMS, DSSE)', () => {
  it('the summary writer signs the statement of the summary with KMS (RAW); the envelope verifies against the public key', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    const errors: unknown[] = [];
    const out = await check(event, checkerDeps(store, errors));
    expect(out).toMatchObject({ status: 'checked', verdict: 'VERIFIED', outcome: 'published' });
    expect(errors).toEqual([]);

    const envelope = JSON.parse((await store.get(attestationKeys.envelope(RUN)))!) as DsseEnvelope;
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
    expect(envelope.signatures.map((s) => s.keyid)).toEqual([KEY_ARN]);
    const summary = JSON.parse((await store.get(runKeys.summary(RUN)))!) as RunReport;
    const payload = Buffer.from(envelope.payload, 'base64');
    expect(payload.equals(statementBytes(summary))).toBe(true); // re-derivable from summary.json
    expect(JSON.parse(payload.toString('utf8'))).toMatchObject({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'one-2.0.0.txt', digest: { sha256: createHash('sha256').update('published one\n').digest('hex') } }],
      predicate: { verdict: 'VERIFIED', runId: RUN, release: { tag: 'v2.0.0', commit: SHA } },
    });

    const calls = kms.commandCalls(SignCommand);
    expect(calls).toHaveLength(2); // the detailed statement, then the VSA
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ KeyId: KEY_ARN, SigningAlgorithm: 'ECDSA_SHA_256', MessageType: 'RAW' });
    expect(Buffer.from(input.Message!).equals(dssePae(envelope.payloadType, payload))).toBe(true);

    expect(verifies(envelope)).toBe(true);
    expect(await opensslVerifies(envelope)).toBe(0);
    // a changed statement does not verify, with either tool
    const forged = { ...envelope, payload: Buffer.from(payload.toString('utf8').replace('"VERIFIED"', '"TAMPERED"')).toString('base64') };
    expect(forged.payload).not.toBe(envelope.payload);
    expect(verifies(forged)).toBe(false);
    expect(await opensslVerifies(forged)).not.toBe(0);
    expect(verifies(envelope, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBe(false);

    // the SLSA VSA of the same run, signed by the same key: PASSED, the configuration's digest as its policy
    const vsa = JSON.parse((await store.get(vsaKeys.envelope(RUN)))!) as DsseEnvelope;
    const vsaPayload = Buffer.from(vsa.payload, 'base64');
    expect(vsaPayload.equals(vsaBytes(summary, policyRef(config)))).toBe(true);
    expect(JSON.parse(vsaPayload.toString('utf8'))).toMatchObject({
      predicateType: 'https://slsa.dev/verification_summary/v1',
      subject: [{ name: 'one-2.0.0.txt' }],
      predicate: { verificationResult: 'PASSED', verifiedLevels: ['SLSA_BUILD_LEVEL_0'], policy: { digest: { sha256: configurationDigest(config) } } },
    });
    expect(Buffer.from(calls[1]!.args[0].input.Message!).equals(dssePae(vsa.payloadType, vsaPayload))).toBe(true);
    expect(verifies(vsa)).toBe(true);
    expect(await opensslVerifies(vsa)).toBe(0);

    // one alert, without a notice about the attestation; a late duplicate signs nothing again
    expect(alertBodies()).toHaveLength(1);
    expect(alertBodies()[0]).not.toContain('ATTESTATION_UNSIGNED');
    expect(await check(event, checkerDeps(store, errors))).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(kms.commandCalls(SignCommand)).toHaveLength(2);
  });

  it('a PAE over 4096 bytes is signed as a SHA-256 DIGEST, and verifies the same way', async () => {
    const store = await freshStore();
    const findings = Array.from({ length: 120 }, (_, i) =>
      finding('AUDIT_TAG_UNPROTECTED', `notice ${i}`, { target: `target-${i}`, artifact: `asset-${i}.bin` }),
    );
    const report: RunReport = {
      schemaVersion: 1,
      runId: RUN,
      startedAt: plan.createdAt,
      finishedAt: '2026-03-02T04:00:00.000Z',
      verdict: 'INCOMPLETE',
      project: plan.project,
      release: { tag: 'v2.0.0', commitSha: SHA },
      targets: [],
      findings,
      mode: 'aws',
    };
    const errors: unknown[] = [];
    const engine = awsEngine(config, {
      store,
      notifier,
      signer: new KmsAttestationSigner({ keyArn: KEY_ARN, client: kmsClient }),
      logger: { info: () => {}, warn: () => {}, error: (_m, f) => void errors.push(f?.error) },
    });
    const outcome = await engine.finish(report);
    expect(outcome).toBe('published');
    expect(errors).toEqual([]);
    const envelope = JSON.parse((await store.get(attestationKeys.envelope(RUN)))!) as DsseEnvelope;
    const pae = dssePae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
    expect(pae.length).toBeGreaterThan(KMS_RAW_MESSAGE_LIMIT);
    const input = kms.commandCalls(SignCommand)[0]!.args[0].input;
    expect(input.MessageType).toBe('DIGEST');
    expect(Buffer.from(input.Message!).equals(createHash('sha256').update(pae).digest())).toBe(true);
    expect(verifies(envelope)).toBe(true);
    expect(await opensslVerifies(envelope)).toBe(0);
  });

  it('a signing failure keeps the summary and the alert: a notice, no envelope, the error logged', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    kms.on(SignCommand).rejects(Object.assign(new Error('User is not authorized to perform: kms:Sign'), { name: 'AccessDeniedException' }));
    const errors: unknown[] = [];
    const out = await check(event, checkerDeps(store, errors));
    expect(out).toMatchObject({ status: 'checked', verdict: 'VERIFIED', outcome: 'published' });
    expect(JSON.parse((await store.get(runKeys.summary(RUN)))!).verdict).toBe('VERIFIED');
    expect(await store.get(attestationKeys.envelope(RUN))).toBeNull();
    expect(alertBodies()).toHaveLength(1);
    expect(alertBodies()[0]).toMatch(/\[NOTICE\] ATTESTATION_UNSIGNED: no signed attestation for this run: User is not authorized to perform: kms:Sign/);
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input.Subject).toBe('[release-verifier] VERIFIED: g/app v2.0.0'); // the verdict stands
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toContain('attestation not signed');
  });
});

describe.skipIf(!hasOpenssl)('the VSA signature failing alone', () => {
  it('keeps the detailed envelope; the notice says which one is missing', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    kms.reset();
    kms
      .on(SignCommand)
      .callsFakeOnce(kmsSign)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const errors: unknown[] = [];
    expect(await check(event, checkerDeps(store, errors))).toMatchObject({ status: 'checked', outcome: 'published' });
    expect(verifies(JSON.parse((await store.get(attestationKeys.envelope(RUN)))!) as DsseEnvelope)).toBe(true);
    expect(await store.get(vsaKeys.envelope(RUN))).toBeNull();
    expect(alertBodies()[0]).toContain(
      `ATTESTATION_UNSIGNED: the detailed attestation is signed, but not the SLSA VSA (runs/${RUN}/vsa.dsse.json): Rate exceeded`,
    );
  });
});

describe.skipIf(!hasOpenssl)("the summary's cost (checker)", () => {
  it("prices the build from its BatchGetBuilds record and the checker invocation from its memory, with the configuration's pricing", async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    const timed: BuildRecord = {
      ...record,
      build: {
        ...record.build,
        startTime: new Date('2026-03-02T03:00:00Z'),
        endTime: new Date('2026-03-02T03:12:10Z'),
        environment: { type: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_LARGE', image: IMAGE },
      },
    };
    const base = checkerDeps(store, []);
    const priced = { ...config, pricing: { region: 'eu-west-1', codebuildPerMinute: { 'linux:BUILD_GENERAL1_LARGE': 0.025 } } };
    const out = await check(event, {
      ...base,
      config: priced,
      results: { ...base.results, read: async () => timed },
      lambda: { memoryMb: 2048, architecture: 'arm64' },
    });
    expect(out).toMatchObject({ status: 'checked', outcome: 'published' });
    const summary = JSON.parse((await store.get(runKeys.summary(RUN)))!) as RunReport;
    expect(summary.targets[0]!.build!.billing).toEqual({ environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_LARGE', billedMinutes: 13 });
    expect(summary.targets[0]!.lambda).toMatchObject({ function: 'checker', memoryMb: 2048, architecture: 'arm64' });
    const cost = summary.cost!;
    expect(cost).toMatchObject({ currency: 'USD', complete: true, prices: { region: 'eu-west-1' } });
    expect(cost.items[0]).toMatchObject({ kind: 'codebuild', target: 'one', quantity: 13, unitPriceUsd: 0.025, usd: 0.325 });
    expect(cost.items.map((i) => i.unit)).toEqual(['build-minute', 'GB-second', 'request']);
    expect(cost.totalUsd).toBeGreaterThanOrEqual(0.325);
    expect(cost.totalUsd).toBeLessThan(0.33);
    // the alert carries it
    expect(alertBodies()[0]).toContain('$0.33');
  });
});
