// Which of a block's two copies holds the newer word: one rule for the daemon's reads, the tools'
// verify and repair, and the simulator.
//
// A block's generation only grows (see generations.ts): every write of a block carries a
// generation above every generation that block ever had on either copy. So of two good copies the
// one with the higher generation is the newer, whichever copy it is on and however it got there
// (a write lost on one copy, a copy rolled back to an old image). Two good copies with the same
// generation and different bytes cannot come from any writer; nothing says which is right, so the
// block counts as damaged on both rather than have a guess decide who owns a service.
import type { Copy } from "./errors.js";

/** How the two copies of one block compare. */
export type Verdict =
  | "ok"
  | "primary-bad"
  | "backup-bad"
  | "both-bad"
  | "primary-stale"
  | "backup-stale"
  /** Same generation, different bytes. */
  | "conflict";

/** What the rule needs of one copy: its generation if it passed every check, else nothing. */
export type CopyGeneration = { generation: number } | undefined;

/** Compares the copies; `identical` is asked only when both are good at the same generation. */
export function judgeCopies(p: CopyGeneration, b: CopyGeneration, identical: () => boolean): Verdict {
  if (p !== undefined && b !== undefined) {
    if (p.generation === b.generation) return identical() ? "ok" : "conflict";
    return p.generation > b.generation ? "backup-stale" : "primary-stale";
  }
  if (p !== undefined) return "backup-bad";
  if (b !== undefined) return "primary-bad";
  return "both-bad";
}

/** The copy to believe, or undefined when neither can be believed. */
export function trustedCopy(verdict: Verdict): Copy | undefined {
  switch (verdict) {
    case "ok":
    case "backup-bad":
    case "backup-stale":
      return "primary";
    case "primary-bad":
    case "primary-stale":
      return "backup";
    case "both-bad":
    case "conflict":
      return undefined;
  }
}

/** The copy a repair rewrites from the other, for a verdict that can be repaired. */
export function staleCopy(verdict: Verdict): Copy | undefined {
  if (verdict === "ok") return undefined;
  const trusted = trustedCopy(verdict);
  if (trusted === undefined) return undefined;
  return trusted === "primary" ? "backup" : "primary";
}

/** Why a block cannot be believed on either copy, for a verdict of conflict. */
export const CONFLICT_PROBLEM =
  "both copies pass their checks with the same generation but hold different contents, which no writer makes; neither is trusted";
