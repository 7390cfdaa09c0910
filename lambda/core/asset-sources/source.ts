/**
 * What an asset source type declares: where the checker downloads a published file from (a release
 * link, a generic package, a job's artifacts). The configuration schema, plan expansion and the
 * companion files' sources come from these modules (registry.ts lists them); the forge adapter
 * implements the download for each type (exhaustively: a new type is a compile error there).
 */
import { z } from 'zod';

/** A relative path inside a build output or artifacts archive, never escaping it. */
export const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a relative path inside the build output, without ".." segments',
  });

export interface AssetSourceType<Z extends z.ZodType<{ type: string }>> {
  type: z.output<Z>['type'];
  /** the zod schema of the source (strict, with descriptions: they go into the JSON Schema) */
  schema: Z;
  /** expands {tag}, {version} and {asset} in the source's fields; `asset` is the expanded asset name */
  expand(source: z.output<Z>, expandName: (template: string) => string, asset: string): z.output<Z>;
  /** the source of a companion file `name` (signature, manifest) of an asset from `source`: it lives where its asset lives */
  companion(source: z.output<Z>, name: string): z.output<Z>;
}
