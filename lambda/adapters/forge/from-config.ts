/**
 * The one place a GitLabForge is built from the configuration (CLI and launcher/checker Lambdas).
 */
import type { Config } from '../../core/config/schema';
import { GitLabForge } from './gitlab-forge';

export function forgeFromConfig(config: Config, token: string | undefined): GitLabForge {
  return new GitLabForge({
    url: config.gitlab.url,
    project: config.gitlab.project,
    token,
    allowedAssetHosts: config.gitlab.allowedAssetHosts,
    cloneUrl: config.gitlab.cloneUrl,
  });
}
