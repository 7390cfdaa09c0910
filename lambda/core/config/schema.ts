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
import { assetSourceSchema } from '../asset-sources/registry';
import { relPath } from '../asset-sources/source';
import { assetName, describedAssetName, PLACEHOLDER_HELP } from '../../formats/schemes/policy/fields';
import { directPolicySchemas, manifestPolicySchemas } from '../../formats/schemes/registry';

export const DIGEST_PINNED_IMAGE = /^[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;
/** A CodeBuild-curated macOS image a MAC_ARM reserved fleet runs (`aws/codebuild/macos-arm-base:<n>`).
 * Not pinned by digest: CodeBuild updates it in place; the report says so (IMAGE_NOT_DIGEST_PINNED). */
export const CURATED_MACOS_IMAGE = /^aws\/codebuild\/macos-arm-base:\d+$/;
const TARGET_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;

/** Placeholders allowed in asset names and artifact paths. */
export { PLACEHOLDER_HELP };

const nonePolicy = z.strictObject({
  scheme: z.literal('none'),
  reason: z.string().min(3).describe('why this asset is not signed; reported as a notice on every run'),
});

const sha256sumsPolicy = z.strictObject({
  scheme: z.literal('sha256sums'),
  manifestAsset: z._default(assetName, 'SHA256SUMS'),
  manifestSignature: z.discriminatedUnion('scheme', manifestPolicySchemas()).describe('how the manifest itself is signed'),
});

// The signature schemes come from the registry (formats/schemes/), in its order; sha256sums and none
// are not schemes over the asset itself but wrappers the configuration adds.
export const SignaturePolicySchema = z.discriminatedUnion('scheme', [...directPolicySchemas(), sha256sumsPolicy, nonePolicy]);

export const AssetSourceSchema = assetSourceSchema();

export const ArtifactSchema = z.strictObject({
  path: relPath.describe('where the artifact appears in the build output (placeholders allowed)'),
  asset: describedAssetName('the release asset it corresponds to (placeholders allowed)'),
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
    // both: what a resolved configuration holds (the stack's config file is the parsed configuration,
    // with both spellings); they must name the same project, and the gitlab block's details stand
    if (c.gitlab !== undefined && c.forge !== undefined && (c.forge.url !== c.gitlab.url || String(c.forge.project) !== String(c.gitlab.project)))
      ctx.addIssue({
        code: 'custom',
        path: ['forge'],
        message: `names ${c.forge.url} ${c.forge.project}, but gitlab names ${c.gitlab.url} ${c.gitlab.project}: give forge or gitlab (gitlab is the older spelling of forge: { type: gitlab, … })`,
      });
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
export type { DirectSignaturePolicy } from '../../formats/types';
export type AssetSource = z.output<typeof AssetSourceSchema>;
export type SignatureScheme = SignaturePolicy['scheme'];
