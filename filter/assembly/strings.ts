/** UTF-8 bytes of a string, for host calls (encode once, keep the result). */
export function buf(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}
