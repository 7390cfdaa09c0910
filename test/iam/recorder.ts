/**
 * Records every AWS request a handler makes, with a middleware on the real SDK v3 client (step
 * `initialize`, so the command's own input is seen before serialization): service, operation,
 * input, region and whether it succeeded. Clients stubbed with aws-sdk-client-mock never run
 * their middleware stack (the stub replaces `send`), so for those the recorder runs the client's
 * own middleware stack up to a terminal step that stops before the network, then calls the stub.
 */

export interface RecordedRequest {
  /** who sends it: a role label the conformance suite maps to a role of the template */
  caller: string;
  /** SDK client name, e.g. S3Client */
  client: string;
  /** command name, e.g. GetObjectCommand */
  operation: string;
  input: Record<string, unknown>;
  region: string;
  /** how it ended: ok, or the error's name and HTTP status */
  outcome?: { ok: true } | { ok: false; name?: string; status?: number };
}

/** the parts of an SDK v3 client the recorder uses */
type AnyClient = {
  middlewareStack: { add: (...a: unknown[]) => void; clone: () => { add: (...a: unknown[]) => void } };
  config: { region: () => Promise<string> | string };
  send: (...a: unknown[]) => Promise<unknown>;
};

const RECORDER = 'iamConformanceRecorder';

export class RequestRecorder {
  readonly requests: RecordedRequest[] = [];

  /** Records what `client` sends on behalf of `caller`. Call after any aws-sdk-client-mock `mockClient`. */
  attach<C extends object>(client: C, caller: string): C {
    const c = client as unknown as AnyClient;
    const record = (context: { clientName?: string; commandName?: string }, input: unknown): RecordedRequest => {
      const entry: RecordedRequest = {
        caller,
        client: context.clientName ?? c.constructor.name,
        operation: context.commandName ?? '?',
        input: (input ?? {}) as Record<string, unknown>,
        region: '',
      };
      this.requests.push(entry);
      return entry;
    };
    const middleware =
      (next: (args: { input: unknown }) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (args: { input: unknown }) => {
        const entry = record(context, args.input);
        entry.region = String(await c.config.region());
        try {
          const out = await next(args);
          entry.outcome = { ok: true };
          return out;
        } catch (err) {
          const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
          entry.outcome = { ok: false, name: e.name, status: e.$metadata?.httpStatusCode };
          throw err;
        }
      };
    c.middlewareStack.add(middleware, { step: 'initialize', priority: 'high', name: RECORDER, override: true });

    const send = c.send as unknown as { isSinonProxy?: boolean; restore?: unknown };
    if (send && (send.isSinonProxy || typeof send.restore === 'function')) {
      // aws-sdk-client-mock: run the real middleware stack up to a stop, then answer from the stub
      const stub = c.send.bind(c);
      c.send = async (...args: unknown[]) => {
        const command = args[0] as {
          input: unknown;
          resolveMiddleware: (stack: unknown, config: unknown, options: unknown) => (a: { input: unknown }) => Promise<unknown>;
        };
        const before = this.requests.length;
        const stack = c.middlewareStack.clone();
        stack.add((() => async () => ({ output: {}, response: {} })) as never, { step: 'initialize', priority: 'low', name: 'iamRecorderStop' });
        await command.resolveMiddleware(stack, c.config, {})({ input: command.input });
        const entry = this.requests[before];
        try {
          const out = await stub(...args);
          if (entry) entry.outcome = { ok: true };
          return out;
        } catch (err) {
          const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
          if (entry) entry.outcome = { ok: false, name: e.name, status: e.$metadata?.httpStatusCode };
          throw err;
        }
      };
    }
    return client;
  }

  clear(): void {
    this.requests.length = 0;
  }
}
