/** Moved from supervisor/cron.test.ts with the schedule syntax (schedule.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cronSchedule, scheduleProblem } from './schedule.js';

describe('schedules', () => {
  test('croner parses 5 and 6 fields, nicknames and time zones', () => {
    assert.equal(cronSchedule('*/5 * * * *').next(new Date('2024-05-01T12:01:00Z'))?.toISOString(), '2024-05-01T12:05:00.000Z');
    assert.equal(cronSchedule('30 * * * * *').next(new Date('2024-05-01T12:01:00Z'))?.toISOString(), '2024-05-01T12:01:30.000Z');
    assert.equal(cronSchedule('@hourly').next(new Date('2024-05-01T12:01:00Z'))?.toISOString(), '2024-05-01T13:00:00.000Z');
    assert.equal(
      cronSchedule('0 9 * * *', 'Asia/Shanghai').next(new Date('2024-05-01T00:00:00Z'))?.toISOString(),
      '2024-05-01T01:00:00.000Z',
    );
  });
  test('a bad schedule or time zone is an error that says what is wrong', () => {
    assert.match(scheduleProblem('61 * * * *')!, /Invalid value for minute: 61/);
    assert.match(scheduleProblem('* * * *')!, /five or six/);
    assert.match(scheduleProblem('* * * * *', 'Nope/Zone')!, /time zone/i);
  });
});
