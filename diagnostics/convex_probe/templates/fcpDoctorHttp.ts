// Written by `fcp-doctor convex-probe init`: the route fcp-doctor calls to run
// the Postgres probe inside this deployment. It answers only requests that
// carry `Authorization: Bearer <FCP_DOCTOR_TOKEN>` (set it with
// `npx convex env set FCP_DOCTOR_TOKEN ...`). Safe to delete.
import { HttpRouter, httpActionGeneric, makeFunctionReference } from "convex/server";
import type { ProbeResult } from "./fcpDoctorNode";

export const FCP_DOCTOR_ROUTE = "/fcp-doctor/postgres";
const probeRef = makeFunctionReference<"action", Record<string, never>, ProbeResult>("fcpDoctorNode:probe");

function sameText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

export const fcpDoctorPostgres = httpActionGeneric(async (ctx, request) => {
  const token = process.env.FCP_DOCTOR_TOKEN;
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
  if (!token) return json(503, { error: "FCP_DOCTOR_TOKEN is not set on this deployment" });
  if (!sameText(request.headers.get("Authorization") ?? "", `Bearer ${token}`)) return json(401, { error: "bad token" });
  const result: ProbeResult = await ctx.runAction(probeRef, {});
  return json(200, result);
});

export function registerFcpDoctorRoutes(http: HttpRouter): void {
  http.route({ path: FCP_DOCTOR_ROUTE, method: "GET", handler: fcpDoctorPostgres });
}
