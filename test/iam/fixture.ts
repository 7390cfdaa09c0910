/** The configuration the conformance runs and the deny matrix synthesize the stack from. */
import { IMAGE, testConfig } from '../handlers/support';

const none = { scheme: 'none', reason: 'test asset' } as const;

export const conformanceConfig = testConfig({
  targets: [
    { name: 'alpha', image: IMAGE, command: 'make alpha', artifacts: [{ path: 'dist/alpha-{version}.txt', asset: 'alpha-{version}.txt', signature: none }] },
    { name: 'gamma', image: IMAGE, command: 'make gamma', artifacts: [{ path: 'dist/gamma-{version}.txt', asset: 'gamma-{version}.txt', signature: none }] },
  ],
});
