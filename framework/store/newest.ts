/**
 * Which copy of a session is newest: the one rule, used wherever copies
 * meet (a takeover choosing among its voters' copies, a replica keeping a
 * streamed record or a handed-on one, a node choosing between its
 * streamed shadow and its automerge document or journal, a registry
 * rebuilt from documents).
 *
 * 1. The higher epoch: each owner change bumps it, and a new owner starts
 *    from the newest copy a majority holds, so everything an older epoch
 *    acknowledged is in the newer one's copies.
 * 2. Within one epoch, the higher revision: one owner writes the epoch,
 *    and its revisions only grow.
 * 3. At the same epoch and revision, a streamed copy (the owner's
 *    control-link stream, which reaches a replica before any ack goes out)
 *    over a checkpointed one (an automerge document or a journal line,
 *    which carries the same record but may lag its stream). They hold the
 *    same changes; the streamed one also carries the exactly-once answers.
 */
export interface CopyVersion {
  epoch: number
  rev: number
  streamed?: boolean
}

/** Whether `a` is strictly newer than `b` (undefined is older than anything). */
export function newerCopy(a: CopyVersion, b: CopyVersion | undefined): boolean {
  if (!b) return true
  if (a.epoch !== b.epoch) return a.epoch > b.epoch
  if (a.rev !== b.rev) return a.rev > b.rev
  return a.streamed === true && b.streamed !== true
}

/** The newest of some copies (the first of equals), or undefined when there are none. */
export function newestCopy<T extends CopyVersion>(copies: Iterable<T>): T | undefined {
  let best: T | undefined
  for (const c of copies) if (newerCopy(c, best)) best = c
  return best
}
