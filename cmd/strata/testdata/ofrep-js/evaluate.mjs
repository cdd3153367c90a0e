// Evaluates Strata's flags through the real OpenFeature server SDK and its OFREP provider.
// It reads one request a line on stdin, {"type", "key", "default", "context"}, and writes one
// result a line on stdout, {"value", "reason", "variant", "errorCode"}, so that the Go test
// (cmd/strata, TestOFREPWithTheOpenFeatureJavaScriptSDK) can change flags and deploy between
// evaluations. STRATA_URL and STRATA_TOKEN (a client token) say where and as whom.
import readline from 'node:readline';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const provider = new OFREPProvider({
  baseUrl: process.env.STRATA_URL,
  headers: [['Authorization', `Bearer ${process.env.STRATA_TOKEN}`]],
});
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient();

const get = {
  boolean: (k, d, c) => client.getBooleanDetails(k, d, c),
  string: (k, d, c) => client.getStringDetails(k, d, c),
  number: (k, d, c) => client.getNumberDetails(k, d, c),
  object: (k, d, c) => client.getObjectDetails(k, d, c),
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const q = JSON.parse(line);
  const d = await get[q.type](q.key, q.default, q.context ?? {});
  process.stdout.write(JSON.stringify({
    value: d.value, reason: d.reason ?? null, variant: d.variant ?? null, errorCode: d.errorCode ?? null,
  }) + '\n');
}
