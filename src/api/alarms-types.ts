/**
 * The wire shapes of alarms (issue 15): what `GET /api/v1/alarms` and `noops alarms --json`
 * answer, silences and callbacks. An AlarmView's first fields are Falcon's event's, by Falcon's
 * names; what noops adds is beside them under its own names.
 */

/** One event the judge sent, as people and programs read it. */
export interface AlarmView {
  id: number;
  /** the strategy's id */
  strategy: string;
  endpoint: string;
  metric: string;
  /** the series' tags, Falcon's `k=v,k=v` sorted by key */
  tags: string;
  status: 'PROBLEM' | 'OK';
  currentStep: number;
  leftValue: number;
  /** seconds: the data time of the point that made it */
  eventTime: number;
  /** Falcon's: 0 the most urgent */
  priority: number;
  note: string;
  /** null until someone acknowledges it */
  acknowledged: { by: string; at: string } | null;
  // noops' extras
  func: string;
  op: string;
  right: number;
  /** why it was not delivered (a silence's reason or a maintenance window); null when delivered */
  silenced: string | null;
  /** when the server stored it (ISO) */
  storedAt: string;
  /** the node of the strategy that made it, as a selector */
  selector: string;
}

/** `GET /api/v1/alarms` */
export interface AlarmsView {
  alarms: AlarmView[];
}

/** A subtree silenced until a time: its alarms are stored, marked, and not delivered. */
export interface SilenceView {
  id: number;
  /** the node (canonical tag) silenced, with everything beneath it */
  selector: string;
  until: string;
  reason: string;
  by: string;
  createdAt: string;
}

/** `POST /api/v1/silences` */
export interface SilenceInput {
  selector: string;
  /** seconds from now */
  forSeconds: number;
  reason: string;
}

/** An HTTP callback alarms are delivered to (POSTed, Falcon's fields form-encoded). */
export interface CallbackView {
  id: number;
  url: string;
  /** takes events of this priority and more urgent (lower numbers); null: every priority */
  priority: number | null;
  by: string;
  createdAt: string;
}

/** `POST /api/v1/alarm-callbacks` */
export interface CallbackInput {
  url: string;
  priority?: number;
}
