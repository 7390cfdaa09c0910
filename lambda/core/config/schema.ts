/**
 * The configuration file: one file describes the project under watch and drives `cdk deploy`, the
 * Lambdas and the CLI. Validated with zod; `npm run schema` publishes the JSON Schema for editors.
 *
 * Every object is strict: an unknown key (a typo such as `notifyOnVerifed`) is an error, never
 * silently ignored — load.ts names the nearest valid key. New objects must use z.strictObject too
 * (test/core/config-strict.test.ts walks the published JSON Schema to hold that).
 *
 * Key material may be given inline or as a path relative to the config file (`…File` fields);
 * `loadConfig` inlines every file, so the resolved configuration is self-contained (the CDK stack
 * embeds it in the Lambda environment).
 */
import { z } from 'zod';

export const DIGEST_PINNED_IMAGE = /^[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;
/** A CodeBuild-curated macOS image a MAC_ARM reserved fleet runs (`aws/codebuild/macos-arm-base:<n>`).
 * Not pinned by digest: CodeBuild updates it in place; the report says so (IMAGE_NOT_DIGEST_PINNED). */
export const CURATED_MACOS_IMAGE = /^aws\/codebuild\/macos-arm-base:\d+$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const MINISIGN_KEY_ID = /^[0-9a-fA-F]{1,16}$/;
const OPENPGP_FPR = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/;
const TARGET_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;

/** Placeholders allowed in asset names and artifact paths. */
export const PLACEHOLDER_HELP = '{version} (tag without a leading "v"), {tag}, {asset} (signature fields only)';

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a relative path inside the build output, without ".." segments',
  });

const assetName = z
  .string()
  .min(1)
  .max(255)
  .refine((n) => !/[\\/]/.test(n) && n !== '.' && n !== '..', {
    message: `must be a bare file name (no "/"); placeholders: ${PLACEHOLDER_HELP}`,
  });

// Key material: give exactly one of the inline field or its `…File` twin; checked in load.ts so
// that the message can name the field.
const minisignPolicy = z.strictObject({
  scheme: z.literal('minisign'),
  publicKey: z.string().min(1).optional().describe('minisign public key (the "RW…" line or the whole .pub file)'),
  publicKeyFile: z.string().min(1).optional().describe('path to the minisign .pub file, relative to this config'),
  keyId: z
    .string()
    .regex(MINISIGN_KEY_ID, 'must be the key id in hex, as minisign shows it (e.g. 7A1F5C0E2B3D4F60)')
    .optional()
    .describe('optional pin: the key id of publicKey, checked when the configuration is loaded'),
  signatureAsset: assetName.default('{asset}.minisig'),
  prehashedOnly: z
    .boolean()
    .default(false)
    .describe(
      'refuse legacy non-prehashed "Ed" signatures (as minisign -V -H does); by default they are accepted, as minisign -V and the Tauri updater accept them',
    ),
  allowLegacy: z
    .boolean()
    .optional()
    .describe('older spelling, kept readable: allowLegacy: false is prehashedOnly: true (when the two disagree, legacy signatures are refused)'),
});

const tauriPolicy = z.strictObject({
  scheme: z.literal('tauri'),
  publicKey: z
    .string()
    .min(1)
    .optional()
    .describe('the updater "pubkey" as in tauri.conf.json (base64 of the minisign .pub file), or the .pub file itself, or its "RW…" line'),
  publicKeyFile: z.string().min(1).optional(),
  keyId: z
    .string()
    .regex(MINISIGN_KEY_ID, 'must be the key id in hex, as minisign shows it')
    .optional()
    .describe('optional pin: the minisign key id inside publicKey, checked when the configuration is loaded'),
  signatureAsset: assetName.default('{asset}.sig'),
});

const openpgpPolicy = z.strictObject({
  scheme: z.literal('openpgp'),
  fingerprint: z
    .string()
    .regex(OPENPGP_FPR, 'must be the primary key fingerprint: 40 (v4) or 64 (v6) hex digits, no spaces')
    .describe('pinned primary key fingerprint'),
  publicKey: z.string().min(1).optional().describe('armored public key'),
  publicKeyFile: z.string().min(1).optional(),
  signatureAsset: assetName.default('{asset}.asc'),
  allowTextMode: z
    .boolean()
    .optional()
    .describe(
      'accept text-mode (0x01) signatures, which sign the text with canonical CRLF line endings rather than the bytes: for text assets only (default: true for a sha256sums manifest, false for other assets)',
    ),
});

/** A manifest is a text asset: text-mode signatures by default, and it may be cleartext-signed. */
const openpgpManifestPolicy = openpgpPolicy.extend({
  allowTextMode: z
    .boolean()
    .default(true)
    .describe('accept text-mode (0x01) signatures over the manifest (line endings are not signed; the manifest parser ignores them)'),
  cleartext: z
    .boolean()
    .optional()
    .describe(
      'the manifest asset is itself cleartext-signed (-----BEGIN PGP SIGNED MESSAGE-----, gpg --clearsign): verified, then read from the signed text only; no signature asset',
    ),
});

const authenticodePolicy = z.strictObject({
  scheme: z.literal('authenticode'),
  certSha256: z
    .array(z.string().regex(HEX64, 'must be a SHA-256 certificate fingerprint: 64 hex digits'))
    .min(1)
    .optional()
    .describe('pinned signer certificate SHA-256 fingerprints (any one may sign)'),
  caCertificate: z.string().min(1).optional().describe('PEM of a pinned issuing CA (with subject)'),
  caCertificateFile: z.string().min(1).optional(),
  subject: z.string().min(1).optional().describe('required signer subject when pinning by CA, e.g. "CN=Mealplanner Maintainer"'),
  tsaCertificate: z
    .string()
    .min(1)
    .optional()
    .describe('PEM of CA(s) trusted for timestamps (RFC 3161 tokens and legacy PKCS#9 countersignatures), in addition to the system roots'),
  tsaCertificateFile: z.string().min(1).optional(),
  signatures: z
    .enum(['primary', 'any-pinned'])
    .optional()
    .describe(
      'which signature must verify: "primary" (default: the first SignerInfo; nested signatures never stand in for it) or "any-pinned" (the primary or any nested signature, e.g. the SHA-256 one of a dual-signed file)',
    ),
});

const sigstorePolicy = z
  .strictObject({
    scheme: z.literal('sigstore'),
    bundleAsset: assetName.default('{asset}.sigstore.json'),
    issuer: z.string().url().optional().describe('OIDC issuer, compared exactly (keyless bundles; with san)'),
    san: z.string().min(1).optional().describe('certificate subject alternative name, compared exactly (escaped and anchored; keyless bundles; with issuer)'),
    publicKey: z
      .string()
      .min(1)
      .optional()
      .describe('pinned signing key, PEM "PUBLIC KEY" (key-based bundles: cosign sign-blob --key … --bundle); instead of issuer + san'),
    publicKeyFile: z.string().min(1).optional(),
    trustedRoot: z.string().min(1).optional().describe('pinned trusted_root.json content'),
    trustedRootFile: z.string().min(1).optional(),
  })
  .refine((p) => (p.issuer !== undefined) === (p.san !== undefined), { message: 'issuer and san go together: give both (keyless bundles)', path: ['san'] })
  .refine((p) => (p.issuer !== undefined) !== (p.publicKey !== undefined || p.publicKeyFile !== undefined), {
    message: 'pin the signer one way: issuer + san (keyless, Fulcio certificate) or publicKey / publicKeyFile (key-based bundle), not both and not neither',
    path: ['issuer'],
  });

const applePolicy = z
  .strictObject({
    scheme: z.literal('apple'),
    teamId: z
      .string()
      .regex(/^[A-Z0-9]{10}$/, 'must be the 10-character Apple Team ID, e.g. ZCK58M894E (the OU of the signing certificate)')
      .optional()
      .describe('pinned Apple Team ID: the signing certificate subject OU (and the CodeDirectory team ID)'),
    certSha256: z
      .array(z.string().regex(HEX64, 'must be a SHA-256 certificate fingerprint: 64 hex digits'))
      .min(1)
      .optional()
      .describe('pinned leaf certificate SHA-256 fingerprints (any one may sign)'),
    requireDeveloperId: z
      .boolean()
      .default(true)
      .describe(
        'accept only Developer ID Application certificates (default); false accepts any Apple-issued code signing identity chaining to the Apple roots',
      ),
  })
  .refine((p) => p.teamId !== undefined || p.certSha256 !== undefined, { message: 'pin the signer: give teamId and/or certSha256', path: ['teamId'] })
  .describe('Apple code signature embedded in the asset (Mach-O, .app in zip/tar, DMG); no signature asset');

const nonePolicy = z.strictObject({
  scheme: z.literal('none'),
  reason: z.string().min(3).describe('why this asset is not signed; reported as a notice on every run'),
});

const directPolicies = [minisignPolicy, tauriPolicy, openpgpPolicy, authenticodePolicy, sigstorePolicy, applePolicy] as const;

const sha256sumsPolicy = z.strictObject({
  scheme: z.literal('sha256sums'),
  manifestAsset: assetName.default('SHA256SUMS'),
  manifestSignature: z
    .discriminatedUnion('scheme', [minisignPolicy, tauriPolicy, openpgpManifestPolicy, authenticodePolicy, sigstorePolicy])
    .describe('how the manifest itself is signed'),
});

export const SignaturePolicySchema = z.discriminatedUnion('scheme', [...directPolicies, sha256sumsPolicy, nonePolicy]);

const releaseLinkSource = z.strictObject({ type: z.literal('release-link') });
const genericPackageSource = z.strictObject({
  type: z.literal('generic-package'),
  packageName: z.string().min(1),
  packageVersion: z.string().min(1).default('{version}'),
  fileName: assetName.optional().describe('defaults to the artifact asset name'),
});
const jobArtifactSource = z.strictObject({
  type: z.literal('job-artifact'),
  ref: z.string().min(1).default('{tag}'),
  job: z.string().min(1),
  path: relPath.describe('path of the file inside the job artifacts archive'),
});
export const AssetSourceSchema = z.discriminatedUnion('type', [releaseLinkSource, genericPackageSource, jobArtifactSource]);

export const ArtifactSchema = z.strictObject({
  path: relPath.describe('where the artifact appears in the build output (placeholders allowed)'),
  asset: assetName.describe('the release asset it corresponds to (placeholders allowed)'),
  source: AssetSourceSchema.default({ type: 'release-link' }),
  compare: z.enum(['auto', 'bytes']).default('auto').describe('auto: chosen by content (signature-transparent for PE, Mach-O, MSI, archives)'),
  signature: SignaturePolicySchema,
});

export const TargetSchema = z
  .strictObject({
    name: z.string().regex(TARGET_NAME, 'must be lower-case letters, digits and "-", at most 41 characters'),
    platform: z.enum(['linux', 'windows', 'macos']).default('linux'),
    image: z
      .string()
      .min(1)
      .describe(
        'container image pinned by digest; macOS targets: the image their MAC_ARM fleet provides, aws/codebuild/macos-arm-base:<n> (CodeBuild-curated, not pinnable by digest)',
      ),
    command: z.string().min(1).describe('shell command run in the checked-out source'),
    timeoutMinutes: z.number().int().min(5).max(2160).default(60),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .default({})
      .describe('non-secret build environment variables'),
    computeType: z.string().optional().describe('CodeBuild compute type, e.g. BUILD_GENERAL1_MEDIUM'),
    privileged: z.boolean().default(false),
    network: z
      .enum(['none', 'default'])
      .default('default')
      .describe('"none": the local build runs without any network (bubblewrap --unshare-net, docker --network=none); "default": the host network'),
    fleetArn: z.string().optional().describe('CodeBuild reserved fleet (required for macOS)'),
    artifacts: z.array(ArtifactSchema).min(1),
  })
  .superRefine((t, ctx) => {
    // macOS runs only on a MAC_ARM reserved fleet, in the curated image the fleet provides;
    // every other platform runs a container image pinned by digest
    if (t.platform === 'macos' && !CURATED_MACOS_IMAGE.test(t.image))
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: 'a macOS target runs the image its MAC_ARM fleet provides: aws/codebuild/macos-arm-base:<n> (e.g. aws/codebuild/macos-arm-base:15)',
      });
    if (t.platform !== 'macos' && !DIGEST_PINNED_IMAGE.test(t.image))
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: 'must be pinned by digest, e.g. rust@sha256:<64 hex digits> — a tag such as rust:1.80 can be moved',
      });
    if (t.platform === 'macos' && !t.fleetArn)
      ctx.addIssue({
        code: 'custom',
        path: ['fleetArn'],
        message: 'macOS builds need a CodeBuild MAC_ARM reserved-capacity fleet (on-demand CodeBuild has no macOS): set fleetArn',
      });
  });

/** A GitLab project under watch: the first forge (the report's `project.forge.type` is `gitlab`). */
const gitlabForgeSchema = z.strictObject({
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
    .default('https://gitlab.com'),
  project: z.union([z.string().regex(/^[^\s/][^\s]*\/[^\s]+$/, 'must be a path like group/project'), z.number().int().positive()]),
  token: z
    .strictObject({
      env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .default('GITLAB_TOKEN')
        .describe('env var read by the CLI'),
      secretName: z.string().optional().describe('Secrets Manager secret read in AWS'),
    })
    .default({ env: 'GITLAB_TOKEN' }),
  /** hosts (besides the GitLab host) release links may point to; the token is never sent there */
  allowedAssetHosts: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'must be a host name, optionally with :port')).default([]),
  /** clone URL; defaults to <url>/<project>.git */
  cloneUrl: z.string().optional(),
});

/**
 * The forge, forge-neutral: `forge: { type: gitlab, url, project, … }`. The older spelling `gitlab: { url,
 * project, … }` stays readable and means the same; give one of the two. Another forge is another member
 * of this union (and an adapter under lambda/adapters/forge/).
 */
const forgeSchema = z.discriminatedUnion('type', [gitlabForgeSchema.extend({ type: z.literal('gitlab') })]);

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1),
    gitlab: gitlabForgeSchema.optional().describe('the GitLab project (older spelling of forge: { type: gitlab, … })'),
    forge: forgeSchema.optional().describe('the forge hosting the project and its releases: { type: gitlab, url, project, … }'),
    release: z.union([z.literal('latest'), z.strictObject({ tag: z.string().min(1) })]).default('latest'),
    schedule: z
      .string()
      .regex(/^cron\(.+\)$|^rate\(.+\)$/, 'must be an EventBridge expression, e.g. cron(0 3 ? * MON *)')
      .default('cron(0 3 ? * MON *)'),
    watch: z
      .strictObject({
        schedule: z
          .string()
          .regex(/^cron\(.+\)$|^rate\(.+\)$/, 'must be an EventBridge expression, e.g. rate(1 hour)')
          .default('rate(1 hour)')
          .describe('how often the watch asks GitLab for the latest release and starts a full run when it has none yet (the weekly `schedule` run stays)'),
        enabled: z.boolean().default(true).describe('deploy the watch (AWS); false: only the weekly schedule runs'),
      })
      .default({ schedule: 'rate(1 hour)', enabled: true })
      .describe('the cheap watch between full runs: detection latency is this interval plus the run time'),
    alerts: z
      .strictObject({
        emails: z.array(z.string().email()).default([]),
        sms: z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number, e.g. +14155550100')).default([]),
        notifyOnVerified: z.boolean().default(true),
      })
      .default({ emails: [], sms: [], notifyOnVerified: true }),
    limits: z
      .strictObject({
        maxAssetBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 ** 3),
        downloadTimeoutSeconds: z.number().int().positive().default(900),
        parallelBuilds: z.number().int().min(1).max(32).default(2),
      })
      .default({ maxAssetBytes: 4 * 1024 ** 3, downloadTimeoutSeconds: 900, parallelBuilds: 2 }),
    aws: z
      .strictObject({
        resultsRetentionDays: z.number().int().min(1).default(365),
        objectLockMode: z.enum(['GOVERNANCE', 'COMPLIANCE']).default('GOVERNANCE'),
        artifactRetentionDays: z.number().int().min(1).default(30),
        stageSource: z
          .boolean()
          .default(false)
          .describe('launcher stages the source at the commit in S3 for builds (private projects); builds then never contact GitLab'),
      })
      .default({ resultsRetentionDays: 365, objectLockMode: 'GOVERNANCE', artifactRetentionDays: 30, stageSource: false }),
    /** release links nobody needs to verify (changelogs, source tarballs); others are UNVERIFIED_ASSET */
    ignoreAssets: z
      .array(z.string().min(1).max(255))
      .max(100)
      .default([])
      .describe('globs (picomatch) of release link names that are not verified and not reported, e.g. "CHANGELOG*", "*-src.tar.gz"'),
    /** prices for each run's `cost` and nothing else (lambda/core/cost/prices.ts holds the defaults) */
    pricing: z
      .strictObject({
        region: z.string().min(1).optional().describe('the region these prices are for (reported with the cost)'),
        readOn: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, e.g. 2026-12-01')
          .optional()
          .describe('the day the prices were read'),
        codebuildPerMinute: z
          .record(
            z.string().regex(/^(linux|arm|windows|macos|linux-gpu|lambda):[A-Z0-9_]+$/, 'must be "<os>:<compute type>", e.g. linux:BUILD_GENERAL1_MEDIUM'),
            z.number().nonnegative(),
          )
          .optional()
          .describe('USD per on-demand build minute by "<os>:<compute type>" (os: linux, arm, windows, macos, linux-gpu, lambda)'),
        lambdaPerGbSecond: z
          .strictObject({ x86_64: z.number().nonnegative().optional(), arm64: z.number().nonnegative().optional() })
          .optional()
          .describe('USD per GB-second of Lambda duration'),
        lambdaPerRequest: z.number().nonnegative().optional().describe('USD per Lambda request'),
      })
      .optional()
      .describe("overrides of the default price table (us-east-1 list prices) used for each run's estimated cost"),
    targets: z.array(TargetSchema).min(1),
  })
  .superRefine((c, ctx) => {
    if (c.gitlab === undefined && c.forge === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['forge'],
        message: 'is required: name the project as forge: { type: gitlab, url, project } (or gitlab: { url, project })',
      });
    if (c.gitlab !== undefined && c.forge !== undefined)
      ctx.addIssue({ code: 'custom', path: ['forge'], message: 'give forge or gitlab, not both (gitlab is the older spelling of forge: { type: gitlab, … })' });
  })
  .transform(({ gitlab, forge, ...rest }) => {
    // one shape inside: `gitlab` for the GitLab adapter, `forge` for the forge-neutral report contract
    const g = gitlab ?? (({ type: _type, ...f }) => f)(forge!);
    return { ...rest, gitlab: g, forge: { type: 'gitlab' as const, url: g.url, project: g.project } };
  });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type TargetConfig = Config['targets'][number];
export type ArtifactConfig = TargetConfig['artifacts'][number];
export type SignaturePolicy = z.output<typeof SignaturePolicySchema>;
export type DirectSignaturePolicy = Exclude<SignaturePolicy, { scheme: 'sha256sums' } | { scheme: 'none' }>;
export type AssetSource = z.output<typeof AssetSourceSchema>;
export type SignatureScheme = SignaturePolicy['scheme'];
