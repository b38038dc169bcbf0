"use node";
// Written by `fcp-doctor convex-probe init`. Reports how Postgres looks from
// inside this Convex deployment: DNS, TCP, TLS, login, database and latency.
// Errors are returned as values (codes such as ENOTFOUND, ECONNREFUSED, 28P01,
// 3D000); no password or full URL is ever returned. Safe to delete.
import { internalActionGeneric } from "convex/server";
import { promises as dns } from "node:dns";
import net from "node:net";
import pg from "pg";

export type Step = {
  ok: boolean;
  ms: number;
  code: string | null;
  addresses?: string[];
  offered?: boolean | null;
};

export type ProbeResult = {
  ok: boolean;
  variable: string;
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: string;
  failedAt: string | null; // url | dns | tcp | tls | auth | database | query
  error: { code: string; message: string } | null;
  latencyMs: number | null;
  steps: Record<string, Step>;
  runtime: string;
};

const TIMEOUT_MS = 5000;
// The Postgres SSLRequest: length 8, code 80877103.
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: "TIMEOUT" })), ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && code) return code;
  const msg = String((e as Error)?.message ?? e);
  if (/does not support SSL/i.test(msg)) return "NO_TLS";
  if (/timeout|timed out/i.test(msg)) return "TIMEOUT";
  return "ERROR";
}

/** Opens a socket, sends the SSLRequest and reads the one-byte answer. */
function sslRequest(host: string, port: number, ms: number): Promise<{ connectMs: number; offered: boolean | null }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let connectMs = 0;
    const socket = net.connect({ host, port });
    const done = (err: Error | null, offered: boolean | null = null) => {
      socket.destroy();
      if (err) reject(err);
      else resolve({ connectMs, offered });
    };
    socket.setTimeout(ms, () => done(Object.assign(new Error(`no answer from ${host}:${port} within ${ms} ms`), { code: "ETIMEDOUT" })));
    socket.once("error", (e) => done(e));
    socket.once("connect", () => {
      connectMs = Date.now() - t0;
      socket.write(SSL_REQUEST);
    });
    socket.once("data", (b: Buffer) => done(null, b[0] === 0x53 ? true : b[0] === 0x4e ? false : null));
  });
}

export async function probePostgres(connectionString: string, variable = "DATABASE_URL", timeoutMs = TIMEOUT_MS): Promise<ProbeResult> {
  const r: ProbeResult = {
    ok: false, variable, host: "", port: 5432, database: "", user: "", sslmode: "(default)",
    failedAt: null, error: null, latencyMs: null, steps: {},
    runtime: `node ${process.version}${process.env.AWS_REGION ? " " + process.env.AWS_REGION : ""}`,
  };
  let password = "";
  const scrub = (text: string) => {
    let out = text.replace(/\/\/[^@\s/]*@/g, "//****@");
    if (password) out = out.split(password).join("****");
    return out.slice(0, 300);
  };
  const fail = (step: string, e: unknown, code?: string): ProbeResult => {
    r.failedAt = step;
    r.error = { code: code ?? errorCode(e), message: scrub(String((e as Error)?.message ?? e)) };
    return r;
  };
  try {
    const u = new URL(connectionString);
    password = decodeURIComponent(u.password);
    r.host = u.hostname.replace(/^\[|\]$/g, "");
    r.port = Number(u.port || 5432);
    r.user = decodeURIComponent(u.username);
    r.database = decodeURIComponent(u.pathname.replace(/^\//, "")) || r.user;
    r.sslmode = u.searchParams.get("sslmode") ?? "(default)";
  } catch (e) {
    return fail("url", e, "BAD_URL");
  }

  let t0 = Date.now();
  let addresses: string[];
  try {
    addresses = net.isIP(r.host) ? [r.host] : (await withTimeout(dns.lookup(r.host, { all: true }), timeoutMs)).map((a) => a.address);
    r.steps.dns = { ok: true, ms: Date.now() - t0, code: null, addresses };
  } catch (e) {
    r.steps.dns = { ok: false, ms: Date.now() - t0, code: errorCode(e) };
    return fail("dns", e);
  }

  t0 = Date.now();
  try {
    const { connectMs, offered } = await sslRequest(addresses[0], r.port, timeoutMs);
    r.steps.tcp = { ok: true, ms: connectMs, code: null };
    r.steps.tls = { ok: true, ms: Date.now() - t0 - connectMs, code: null, offered };
  } catch (e) {
    r.steps.tcp = { ok: false, ms: Date.now() - t0, code: errorCode(e) };
    return fail("tcp", e);
  }

  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: "fcp-doctor-convex",
  });
  client.on("error", () => {}); // a dropped connection is reported by the awaited call
  t0 = Date.now();
  try {
    await client.connect();
    r.steps.auth = { ok: true, ms: Date.now() - t0, code: null };
  } catch (e) {
    const code = errorCode(e);
    const step = code === "3D000" ? "database" : /^28/.test(code) ? "auth" : code === "NO_TLS" || /CERT|SSL|TLS/.test(code) ? "tls" : "auth";
    r.steps[step] = { ok: false, ms: Date.now() - t0, code };
    await client.end().catch(() => {});
    return fail(step, e, code);
  }
  try {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const q0 = process.hrtime.bigint();
      await client.query("SELECT 1");
      times.push(Number(process.hrtime.bigint() - q0) / 1e6);
    }
    times.sort((a, b) => a - b);
    r.latencyMs = Math.round(times[1] * 100) / 100;
    const s = await client.query("SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS ro");
    const { recovery, ro } = s.rows[0] as { recovery: boolean; ro: string };
    r.steps.query = { ok: !recovery && ro !== "on", ms: r.latencyMs, code: recovery ? "IN_RECOVERY" : ro === "on" ? "READ_ONLY" : null };
    if (recovery || ro === "on") {
      return fail("query", new Error(recovery ? "connected to a standby (pg_is_in_recovery)" : "transaction_read_only = on"), recovery ? "IN_RECOVERY" : "READ_ONLY");
    }
    r.ok = true;
    return r;
  } catch (e) {
    r.steps.query = { ok: false, ms: 0, code: errorCode(e) };
    return fail("query", e);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Called by the token-guarded route in fcpDoctorHttp.ts. */
export const probe = internalActionGeneric({
  args: {},
  handler: async (): Promise<ProbeResult> => {
    const variable = process.env.FCP_DOCTOR_PG_VAR || (process.env.DATABASE_URL ? "DATABASE_URL" : "POSTGRES_URL");
    const url = process.env[variable];
    if (!url) {
      return {
        ok: false, variable, host: "", port: 0, database: "", user: "", sslmode: "", failedAt: "url",
        error: { code: "NO_URL", message: `${variable} is not set on this deployment (npx convex env set ${variable} ...)` },
        latencyMs: null, steps: {}, runtime: `node ${process.version}`,
      };
    }
    return await probePostgres(url, variable);
  },
});
