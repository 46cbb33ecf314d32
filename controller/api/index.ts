export { createApi, listenApi, type ApiOptions, type RttSource } from './server';
export { Metrics, SWAP_LATENCY_BUCKETS, RTT_BUCKETS, type MetricsSources } from './metrics';
export { loadOrCreateToken, bearerMatches, TokenFileError } from './auth';
export { formatSse } from './events';
