/**
 * Which of two reports of one host is the later (AgentReport.order). A pure function the store's
 * SQL mirrors (host-reports.ts), exported by the store's light index for the read model. Several servers hear one
 * agent in turn, and a server paused for a while (SIGSTOP, a long collection) receives the
 * requests that waited in its socket when it resumes: the time a server received a report says
 * little then; the agent's own count says which it sent last.
 */

/** A report's place among its agent's reports (AgentReport.order in api/types.ts). */
export interface ReportOrder {
  boot: string;
  seq: number;
}

/** A report as it is compared: when a server received it (ms or ISO, both sides alike) and its order. */
export interface OrderedReport<T extends string | number> {
  at: T;
  order?: ReportOrder | null;
}

/**
 * Whether `next` is a later report of its host than `prev`: of one agent start, the one the agent
 * sent later (`order.seq`); otherwise (an agent that restarted, a report without an order) the
 * one a server received later (`at`).
 *
 * @example laterReport({ at: 2, order: { boot: 'b', seq: 4 } }, { at: 1, order: { boot: 'b', seq: 5 } }) // false
 */
export function laterReport<T extends string | number>(next: OrderedReport<T>, prev: OrderedReport<T>): boolean {
  if (next.order && prev.order && next.order.boot === prev.order.boot) return next.order.seq > prev.order.seq;
  return next.at > prev.at;
}
