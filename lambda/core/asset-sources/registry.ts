/**
 * The asset source types, in the order of the configuration's discriminated union. A new type: its
 * module here, one line in LIST, its download in the forge adapter (a compile error until then), its tests.
 */
import { z } from 'zod';
import { genericPackageSource } from './generic-package';
import { jobArtifactSource } from './job-artifact';
import { releaseLinkSource } from './release-link';
import type { AssetSourceType } from './source';

const LIST = [releaseLinkSource, genericPackageSource, jobArtifactSource] as const;

type SchemasOf<T extends readonly AssetSourceType<z.ZodType<{ type: string }>>[]> = { -readonly [K in keyof T]: T[K]['schema'] };
type SourceSchemas = SchemasOf<typeof LIST>;

/** The configuration's `source` schema: a discriminated union over the types, in registry order. */
export function assetSourceSchema() {
  return z.discriminatedUnion('type', LIST.map((t) => t.schema) as unknown as SourceSchemas);
}

export type AssetSource = z.output<SourceSchemas[number]>;
export type AssetSourceTypeName = AssetSource['type'];
export const ASSET_SOURCE_TYPES: readonly AssetSourceTypeName[] = LIST.map((t) => t.type);

type AnySourceType = AssetSourceType<z.ZodType<AssetSource>>;

function sourceType(source: AssetSource): AnySourceType {
  const t = LIST.find((s) => s.type === source.type);
  if (!t) throw new Error(`unknown asset source type "${String((source as { type?: unknown }).type)}"`);
  return t as unknown as AnySourceType;
}

/** The source with its placeholders expanded (`asset`: the expanded asset name). */
export function expandSource(source: AssetSource, expandName: (template: string) => string, asset: string): AssetSource {
  return sourceType(source).expand(source, expandName, asset);
}

/** The published copy of a companion file (signature, manifest) lives where its asset lives. */
export function companionSource(source: AssetSource, name: string): AssetSource {
  return sourceType(source).companion(source, name);
}
