import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Config } from '../../lambda/core/config/schema';

export interface ConfigLayerProps {
  /** the resolved configuration (`loadConfig`: validated, key files inlined) */
  readonly config: Config;
}

/** Where the layer's file appears inside a function (layers are extracted under /opt). */
export { DEFAULT_CONFIG_FILE as CONFIG_FILE_IN_LAMBDA } from '../../lambda/handlers/env';

/**
 * The resolved configuration as a Lambda layer holding one JSON file. Why a layer: Lambda
 * environment variables are limited to 4 KiB in total and pinned keys and trusted roots are larger;
 * a layer needs no runtime permission (unlike an S3 object or an SSM parameter), is versioned with
 * the stack, and its content hash changes exactly when the configuration does.
 */
export class ConfigLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: ConfigLayerProps) {
    super(scope, id);
    const dir = mkdtempSync(join(tmpdir(), 'relverify-config-layer-'));
    mkdirSync(join(dir, 'release-verifier'));
    writeFileSync(join(dir, 'release-verifier', 'config.json'), JSON.stringify(props.config, null, 2) + '\n');
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code: lambda.Code.fromAsset(dir),
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      description: 'release-verifier resolved configuration (config.json)',
    });
  }
}
