/**
 * The leader's list of telemetry members: this daemon's address recorded
 * (again until it succeeds), the live daemons read while leading, listeners
 * told only of a change, and the last list kept when the store fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TelemetryMembers } from '../../../daemon/ha/telemetry-members.js';
import { setLogLevel } from '../../../daemon/log.js';

setLogLevel('silent');

test('members: own address recorded until it succeeds, the live daemons while leading, changes told once', () => {
  const advertised: string[] = [];
  let failAdvertise = true;
  let failRead = false;
  let rows: string[] = [];
  let leading = false;
  const members = new TelemetryMembers({
    shared: {
      advertise: (a) => {
        if (failAdvertise) throw new Error('PostgreSQL unavailable');
        advertised.push(a);
      },
      members: () => {
        if (failRead) throw new Error('PostgreSQL unavailable');
        return rows;
      },
    },
    own: '10.0.0.1:7071',
    leaseMs: 2000,
    wanted: () => leading,
  });
  let told = 0;
  members.onChange(() => told++);
  assert.deepEqual(members.list(), [{ address: '10.0.0.1', port: 7071 }]);

  members.refresh();
  failAdvertise = false;
  members.refresh();
  members.refresh();
  assert.deepEqual(advertised, ['10.0.0.1:7071'], 'recorded once it could be');

  // A follower does not read the members.
  rows = ['10.0.0.1:7071', '10.0.0.2:7071'];
  members.refresh();
  assert.equal(told, 0);

  leading = true;
  members.refresh();
  members.refresh();
  assert.equal(told, 1);
  assert.deepEqual(members.list(), [
    { address: '10.0.0.1', port: 7071 },
    { address: '10.0.0.2', port: 7071 },
  ]);

  failRead = true;
  members.refresh();
  assert.equal(told, 1);
  assert.equal(members.list().length, 2, 'the last list is kept');

  // Nothing recorded at all: the leader lists itself.
  failRead = false;
  rows = [];
  members.refresh();
  assert.equal(told, 2);
  assert.deepEqual(members.list(), [{ address: '10.0.0.1', port: 7071 }]);
});
