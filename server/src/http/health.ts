/**
 * Health and metrics. `/healthz` says whether every listener is up; `/metrics` gives counters in
 * the Prometheus text format. Neither reveals who is registered or calling: only totals.
 */
import type { FastifyPluginAsync } from 'fastify';

export interface HealthSource {
  /** Listener names mapped to whether they are up. */
  listeners(): Record<string, boolean>;
  /** Counter and gauge values by metric name (sotto_* names, no labels with identities). */
  metrics(): Record<string, number>;
}

export const healthPlugin: FastifyPluginAsync<{ source: HealthSource }> = async (app, { source }) => {
  app.get('/healthz', async (_req, reply) => {
    const listeners = source.listeners();
    const ok = Object.values(listeners).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', listeners });
  });

  app.get('/metrics', async (_req, reply) => {
    const lines: string[] = [];
    for (const [name, value] of Object.entries(source.metrics())) lines.push(`${name} ${Number.isFinite(value) ? value : 0}`);
    return reply.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n');
  });
};
