/**
 * @lunasentri/api — the HTTP API and admin CLI. `main` is the binary's entry; the rest is exported
 * for tests and benchmarks that start the API in-process.
 */
export { main } from './main';
export { startApiService, type ApiService, type ApiServiceOptions } from './service/api.service';
export { buildServer } from './http/server';
export { BODY_LIMIT_BYTES } from './http/answers';
export { serveSettings, adminSettings, listenSettings, ingestSettings } from './api.settings';
export { hashCredential, MACHINE_KEY_PREFIX, USER_TOKEN_PREFIX } from './credentials/credentials';
export { IngestWriter } from './ingest/ingest.writer';
export { pruneMetrics } from './ingest/metrics.retention';
