/**
 * A verifier process for the sandbox tests (see buildInVerifierProcess in sandbox-support.ts): reads
 * the token like the CLI, drops it from process.env, runs one local build and prints the outcome.
 */
import { dirname, join } from 'node:path';
import { LocalBuilder } from '../../../lambda/adapters/builder/local-builder';
import { buildRequest } from './sandbox-support';

const input = JSON.parse(process.argv[2]!) as {
  repo: string;
  sha: string;
  command: string;
  unsafeHost?: boolean;
  network?: 'none' | 'default';
  env?: Record<string, string>;
};
const token = process.env.GITLAB_TOKEN;
delete process.env.GITLAB_TOKEN;
if (!token) throw new Error('the driver expects a token');

const builder = new LocalBuilder({
  docker: 'never',
  keep: true,
  maxTimeoutMs: 20_000,
  ...(input.unsafeHost ? { bwrap: '/nonexistent/bwrap', unsafeHostBuild: true } : {}),
});
const r = await builder.run(buildRequest(input, input.command, { network: input.network, env: input.env }));
const root = dirname(r.logLink!);
process.stdout.write(JSON.stringify({ status: r.status, message: r.message, logTail: r.logTail, src: join(root, 'src'), root }));
