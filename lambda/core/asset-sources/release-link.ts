/** A release link: the asset is downloaded from the link of that name on the release. */
import { z } from 'zod';
import type { AssetSourceType } from './source';

const schema = z.strictObject({ type: z.literal('release-link') });

export const releaseLinkSource: AssetSourceType<typeof schema> = {
  type: 'release-link',
  schema,
  expand: (source) => source,
  // companions are release links too, by their own names
  companion: (source) => source,
};
