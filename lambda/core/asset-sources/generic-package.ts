/** A file of a generic package (the package registry): name, version and file name. */
import { z } from 'zod';
import { assetName } from '../../formats/schemes/policy/fields';
import type { AssetSourceType } from './source';

const schema = z.strictObject({
  type: z.literal('generic-package'),
  packageName: z.string().min(1),
  packageVersion: z.string().min(1).default('{version}'),
  fileName: z.optional(assetName).describe('defaults to the artifact asset name'),
});

export const genericPackageSource: AssetSourceType<typeof schema> = {
  type: 'generic-package',
  schema,
  expand: (source, expand, asset) => ({
    ...source,
    packageName: expand(source.packageName),
    packageVersion: expand(source.packageVersion),
    fileName: source.fileName === undefined ? asset : expand(source.fileName),
  }),
  // a companion is another file of the same package
  companion: (source, name) => ({ ...source, fileName: name }),
};
