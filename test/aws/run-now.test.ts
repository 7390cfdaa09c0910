import { Writable } from 'node:stream';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../lambda/cli/run-now';

function sink() {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } });
  return { stream, text: () => text };
}

describe('release-verifier run-now', () => {
  const cloudformation = new CloudFormationClient({ region: 'eu-west-1' });
  const lambda = new LambdaClient({ region: 'eu-west-1' });
  const cfn = mockClient(cloudformation);
  const lam = mockClient(lambda);
  beforeEach(() => {
    cfn.reset();
    lam.reset();
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'ReleaseVerifier', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'ResultsBucketName', OutputValue: 'b' }, { OutputKey: 'LauncherFunctionName', OutputValue: 'ReleaseVerifier-LauncherFunction-abc' }] }] });
  });
  const launched = { runId: '20260302T000000Z-abcdef', release: 'v1.0.0', planCreated: true, started: [{ target: 'linux-x64', buildId: 'p:1' }], alreadyStarted: [], notStarted: [] };

  it('finds the launcher in the stack outputs and invokes it synchronously with the options', async () => {
    lam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(launched)) as never });
    const out = sink();
    const err = sink();
    const code = await run(['--stack', 'ReleaseVerifier', '--release', 'v1.0.0', '--fresh'], { cloudformation, lambda, out: out.stream, err: err.stream });
    expect(code).toBe(0);
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'ReleaseVerifier' });
    const input = lam.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.FunctionName).toBe('ReleaseVerifier-LauncherFunction-abc');
    expect(input.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({ source: 'run-now', tag: 'v1.0.0', fresh: true });
    expect(JSON.parse(out.text()).runId).toBe(launched.runId);
    expect(err.text()).toMatch(/started linux-x64: p:1/);
  });

  it('a launcher error or an unplannable run exits 1', async () => {
    lam.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode(JSON.stringify({ errorType: 'AccessDenied', errorMessage: 'no' })) as never });
    const err = sink();
    expect(await run(['--stack', 'ReleaseVerifier'], { cloudformation, lambda, out: sink().stream, err: err.stream })).toBe(1);
    expect(err.text()).toMatch(/the launcher failed: AccessDenied: no/);
    lam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ ...launched, started: [], failedVerdict: 'INCOMPLETE' })) as never });
    expect(await run(['--stack', 'ReleaseVerifier'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(1);
  });

  it('usage errors and missing stacks/outputs exit 3 without invoking anything', async () => {
    expect(await run([], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(3);
    expect(await run(['--stack'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(3);
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }));
    const err = sink();
    expect(await run(['--stack', 'Nope'], { cloudformation, lambda, out: sink().stream, err: err.stream })).toBe(3);
    expect(err.text()).toMatch(/does not exist/);
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Other', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [] }] });
    expect(await run(['--stack', 'Other'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(3);
    expect(lam).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('--function skips the stack lookup', async () => {
    lam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(launched)) as never });
    expect(await run(['--function', 'fn-x', '--region', 'eu-west-1'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(0);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 0);
    expect(lam).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'fn-x' });
  });
});
