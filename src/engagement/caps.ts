import type { Decision } from '../rules/billability';
import type { CompiledContract } from '../rules/compile';
import type { EngagementState } from './state';

/*
 * Time held over a not-to-exceed cap is kept (state.overCap) so that an
 * amendment raising the cap can bill it later, oldest first, as far as the new
 * cap admits.
 */

/** Room under each amended cap for held over-cap parts (only lines an amendment re-capped: nothing moves otherwise). */
export function releaseRoom(s: EngagementState, cc: CompiledContract): Map<string, number> {
  const room = new Map<string, number>();
  if (!s.capAmendedLines?.length || !s.overCap?.length) return room;
  for (const lineId of [...s.capAmendedLines].sort()) {
    const cl = cc.lines.get(lineId);
    if (!cl || !s.overCap.some((p) => p.contractLineId === lineId)) continue;
    const r = cl.capLimit === null ? Number.MAX_SAFE_INTEGER : cl.capLimit - (s.billedByLine[lineId] ?? 0);
    if (r > 0) room.set(lineId, r);
  }
  return room;
}

const byDateThenId = (a: { serviceDate: string; sourceId: string }, b: { serviceDate: string; sourceId: string }): number =>
  a.serviceDate < b.serviceDate ? -1 : a.serviceDate > b.serviceDate ? 1 : a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0;

/**
 * Moves held over-cap parts (date order) into billing as far as the amended caps
 * admit them: CAPPED -> BILLABLE, so delivered stays what it was. A part that
 * fits only in part is split again; the rest stays held.
 */
export function releaseOverCap(s: EngagementState, cc: CompiledContract): Decision[] {
  const out: Decision[] = [];
  const rooms = releaseRoom(s, cc);
  if (rooms.size === 0) return out;
  const fmt = (n: number) => `${cc.currency} ${(n / 100).toFixed(2)}`;
  for (const [lineId, start] of rooms) {
    let room = start;
    const parts = s.overCap!.filter((p) => p.contractLineId === lineId).sort(byDateThenId);
    for (const p of parts) {
      if (room <= 0) break;
      const take = Math.min(p.amountMinor, room);
      const minutes = take === p.amountMinor ? p.minutes : Math.floor((p.minutes * take) / p.amountMinor);
      out.push({
        sourceId: p.sourceId,
        kind: p.kind,
        contractLineId: lineId,
        projectId: p.projectId,
        serviceDate: p.serviceDate,
        billingClass: 'BILLABLE',
        reasonCode: take < p.amountMinor ? 'BILLABLE.PARTIAL_UNDER_CAP' : 'BILLABLE.TIME_AND_MATERIALS',
        amountMinor: take,
        minutes,
        lineKey: p.lineKey,
        lineDescription: p.lineDescription,
        milestoneId: undefined,
        // the day it was worked: billReleased may move serviceDate to the day it became billable
        periodStart: p.serviceDate,
        periodEnd: p.serviceDate,
        detail: `held over the cap; ${fmt(take)} of ${fmt(p.amountMinor)} admitted by contract v${cc.contract.version}`,
      });
      p.amountMinor -= take;
      p.minutes -= minutes;
      room -= take;
      s.billedByLine[lineId] = (s.billedByLine[lineId] ?? 0) + take;
      s.totals.CAPPED -= take;
      s.totals.BILLABLE += take;
      const held = s.held.find((h) => h.sourceId === p.sourceId && h.reasonCode === 'CAPPED.OVER_CAP');
      if (held) held.amountMinor -= take;
    }
  }
  const done = new Set(s.overCap!.filter((p) => p.amountMinor === 0).map((p) => p.sourceId));
  s.held = s.held.filter((h) => !(h.reasonCode === 'CAPPED.OVER_CAP' && done.has(h.sourceId) && h.amountMinor === 0));
  s.overCap = s.overCap!.filter((p) => p.amountMinor > 0);
  return out;
}

/** Held over-cap amounts on the given lines, and how much of them the current caps admit. */
export function heldOverCap(s: EngagementState, cc: CompiledContract, lines: ReadonlySet<string>): { heldOverCapMinor: number; releasableMinor: number } {
  const held = (s.overCap ?? []).filter((p) => lines.has(p.contractLineId));
  const rooms = releaseRoom(s, cc);
  let heldOverCapMinor = 0;
  let releasableMinor = 0;
  for (const lineId of lines) {
    const h = held.filter((p) => p.contractLineId === lineId).reduce((a, p) => a + p.amountMinor, 0);
    heldOverCapMinor += h;
    releasableMinor += Math.min(h, rooms.get(lineId) ?? 0);
  }
  return { heldOverCapMinor, releasableMinor };
}
