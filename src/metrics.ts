/**
 * What the bot counts for /metrics (Prometheus text, prom-client): turns handled and their
 * time, job runs by kind and how they ended (and how many run now), remote requests, waits
 * for a limit and refusals by host, and migrations finished. Per process: Prometheus adds
 * the processes up. Labels are kinds, hosts and statuses, never a user or a token.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "fedimove_" });

export const metrics = {
  turns: new Counter({
    name: "fedimove_turns_total",
    help: "Messages and button presses handled, by how the turn ended",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  turnSeconds: new Histogram({
    name: "fedimove_turn_seconds",
    help: "Time to handle one message, its replies sent",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  jobRuns: new Counter({
    name: "fedimove_job_runs_total",
    help: "Job runs, by kind and how the run ended (done, again: scheduled to run once more, failed)",
    labelNames: ["kind", "state"] as const,
    registers: [registry],
  }),
  jobsRunning: new Gauge({
    name: "fedimove_jobs_running",
    help: "Jobs running in this process now, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  requests: new Counter({
    name: "fedimove_remote_requests_total",
    help: "Requests sent to remote servers (retries included), by host and status class",
    labelNames: ["host", "status"] as const,
    registers: [registry],
  }),
  waits: new Counter({
    name: "fedimove_remote_waits_total",
    help: "Requests held back for a server's limit, by host",
    labelNames: ["host"] as const,
    registers: [registry],
  }),
  refusals: new Counter({
    name: "fedimove_remote_refusals_total",
    help: "Answers that said a limit was met (429, or a server's own limit status), by host",
    labelNames: ["host"] as const,
    registers: [registry],
  }),
  migrations: new Counter({
    name: "fedimove_migrations_finished_total",
    help: "Transfers watched to their end (the finished message sent)",
    registers: [registry],
  }),
};

/** A status as its class: 2xx, 3xx, 4xx, 5xx, or "error" when no answer came. */
export function statusClass(status: number | undefined): string {
  return status === undefined ? "error" : `${Math.floor(status / 100)}xx`;
}
