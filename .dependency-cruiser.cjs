/**
 * The layering, checked in CI (`npm run deps`): base ← formats ← core ← adapters ← handlers / cli.
 * formats stand alone (they never import the core), the core knows no AWS or GitLab, and no module
 * imports itself through a cycle.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'import cycles hide the layering and break lazy loading',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular-types',
      severity: 'error',
      comment: 'type-only cycles too: they tie modules that should stand apart',
      from: {},
      to: { circular: true },
    },
    { name: 'base-stands-alone', severity: 'error', from: { path: '^lambda/base/' }, to: { path: '^lambda/(?!base/)' } },
    {
      name: 'formats-below-core',
      severity: 'error',
      comment: 'formats read files and answer; the core consumes them, never the reverse',
      from: { path: '^lambda/formats/' },
      to: { path: '^lambda/(core|adapters|handlers|cli)/' },
    },
    { name: 'core-knows-no-adapters', severity: 'error', from: { path: '^lambda/core/' }, to: { path: '^lambda/(adapters|handlers|cli)/' } },
    {
      name: 'core-knows-no-aws-or-gitlab',
      severity: 'error',
      from: { path: '^lambda/(core|formats|base)/' },
      to: { path: 'node_modules/(@aws-sdk|@aws-lambda-powertools|@gitbeaker|aws-cdk-lib)/' },
    },
    { name: 'adapters-below-entry-points', severity: 'error', from: { path: '^lambda/adapters/' }, to: { path: '^lambda/(handlers|cli)/' } },
    { name: 'lambda-not-into-cdk', severity: 'error', from: { path: '^lambda/' }, to: { path: '^(lib|bin)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
  },
};
