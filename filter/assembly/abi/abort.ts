/**
 * The module's `abort` (wired in asconfig.json through `use`): logs where the
 * filter failed, at critical level, then traps. Envoy then applies the
 * plugin's failure policy; production traffic must be configured to fail open.
 */
import { proxy_log } from './env';

export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = 'umbra: filter aborted: ';
  text += message !== null ? message : '(no message)';
  if (fileName !== null) text += ' at ' + fileName + ':' + line.toString() + ':' + column.toString();
  const buf = String.UTF8.encode(text);
  proxy_log(5, changetype<usize>(buf), <usize>buf.byteLength);
  unreachable();
}
