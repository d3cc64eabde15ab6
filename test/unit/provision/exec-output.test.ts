import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CommandResult } from '../../../daemon/provision/exec-command.js';
import { parseEndpoints, verdictOf } from '../../../daemon/provision/exec-output.js';

function result(over: Partial<CommandResult>): CommandResult {
  return {
    code: 0,
    signal: null,
    timedOut: false,
    overflow: false,
    stdout: '',
    stderrTail: [],
    ms: 5,
    ...over,
  };
}

describe('exec provisioner output contract', () => {
  test('exit 0 with endpoints is success', () => {
    const v = verdictOf(
      'ensure',
      result({
        stdout: '{"endpoints":[{"host":"10.0.0.7","port":8080},{"host":"shop-v2.default.svc","port":80}]}',
      }),
    );
    assert.deepEqual(v, {
      ok: true,
      endpoints: [
        { host: '10.0.0.7', port: 8080 },
        { host: 'shop-v2.default.svc', port: 80 },
      ],
    });
  });

  test('garbage on stdout is an error naming what is wrong, never data', () => {
    const cases: [string, string][] = [
      ['', 'stdout: empty; expected one JSON object'],
      [
        'deployment.apps/shop-v2 configured',
        'stdout: not JSON ("deployment.apps/shop-v2 configured"); expected one JSON object',
      ],
      ['[1,2]', 'stdout: must be a JSON object (got "[1,2]")'],
      ['{"endpoints":"10.0.0.1:80"}', 'stdout: endpoints: required, a list of {"host", "port"}'],
      [
        '{"endpoints":[{"host":"a","port":80},{"host":"b","port":0}]}',
        'stdout: endpoints[1].port: must be a whole number 1..65535 (got "0")',
      ],
      [
        '{"endpoints":[{"host":"no spaces allowed","port":80}]}',
        'stdout: endpoints[0].host: must be an IP address or a DNS name (got "\\"no spaces allowed\\"")',
      ],
      [
        '{"endpoints":[{"port":80}]}',
        'stdout: endpoints[0].host: must be an IP address or a DNS name (got "nothing")',
      ],
      [
        '{"endpoints":[{"host":"a","port":80},{"host":"a","port":80}]}',
        'stdout: endpoints[1]: the same endpoint as endpoints[0]',
      ],
      ['{"error":"quota"}', 'stdout: error: reported with exit code 0: "quota"'],
    ];
    for (const [stdout, error] of cases) {
      const v = verdictOf('status', result({ stdout }));
      assert.deepEqual(
        v,
        { ok: false, temporary: false, error: `broke the output contract: ${error}` },
        stdout,
      );
    }
  });

  test('exit codes: 75 is worth another attempt, others are not; the reason comes from stdout, else stderr', () => {
    assert.deepEqual(verdictOf('ensure', result({ code: 75, stdout: '{"error":"API server busy"}' })), {
      ok: false,
      temporary: true,
      error: 'exited with code 75: "API server busy"',
    });
    assert.deepEqual(verdictOf('ensure', result({ code: 1, stderrTail: ['first', 'Error: forbidden'] })), {
      ok: false,
      temporary: false,
      error: 'exited with code 1: stderr: "Error: forbidden"',
    });
    assert.deepEqual(verdictOf('stop', result({ code: 2 })), {
      ok: false,
      temporary: false,
      error: 'exited with code 2: no reason given',
    });
  });

  test('a timeout is retried; a failure to start, an overflow or a foreign signal are not', () => {
    const timedOut = verdictOf('ensure', result({ timedOut: true, signal: 'SIGKILL', code: null, ms: 1200 }));
    assert.equal(timedOut.ok, false);
    assert.equal(!timedOut.ok && timedOut.temporary, true);
    assert.match(!timedOut.ok ? timedOut.error : '', /timed out; killed with its process group/);
    const cases: [Partial<CommandResult>, RegExp][] = [
      [{ spawnError: 'spawn ./nope ENOENT', code: null }, /could not start: spawn \.\/nope ENOENT/],
      [{ overflow: true }, /more than 1 MiB/],
      [{ signal: 'SIGSEGV', code: null }, /killed by SIGSEGV/],
    ];
    for (const [over, error] of cases) {
      const v = verdictOf('ensure', result(over));
      assert.equal(v.ok, false);
      assert.equal(!v.ok && v.temporary, false);
      assert.match(!v.ok ? v.error : '', error);
    }
  });

  test('stop succeeds on exit 0 whatever it prints', () => {
    assert.deepEqual(verdictOf('stop', result({ stdout: 'deployment.apps "shop-v2" deleted' })), {
      ok: true,
      endpoints: [],
    });
  });

  test('IPv6 addresses are hosts; an empty list is a valid answer', () => {
    assert.deepEqual(parseEndpoints('{"endpoints":[{"host":"::1","port":9}]}'), {
      ok: true,
      endpoints: [{ host: '::1', port: 9 }],
    });
    assert.deepEqual(parseEndpoints('{"endpoints":[],"message":"scaled to zero"}'), {
      ok: true,
      endpoints: [],
    });
  });
});
