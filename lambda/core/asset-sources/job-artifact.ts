/** A file inside a CI job's artifacts archive, at a ref. */
import { z } from 'zod';
import { relPath, type AssetSourceType } from './source';

const schema = z.strictObject({
  type: z.literal('job-artifact'),
  ref: z.string().min(1).default('{tag}'),
  job: z.string().min(1),
  path: relPath.describe('path of the file inside the job artifacts archive'),
});

export const jobArtifactSource: AssetSourceType<typeof schema> = {
  type: 'job-artifact',
  schema,
  expand: (source, expand) => ({ ...source, ref: expand(source.ref), job: source.job, path: expand(source.path) }),
  // a companion sits in the same directory of the same archive
  companion: (source, name) => {
    const dir = source.path.includes('/') ? source.path.slice(0, source.path.lastIndexOf('/') + 1) : '';
    return { ...source, path: dir + name };
  },
};
