/** Types for parse-prometheus-text-format (the package ships none). */
declare module 'parse-prometheus-text-format' {
  export interface ParsedFamily {
    name: string;
    help: string;
    /** Upper case: COUNTER, GAUGE, … */
    type: string;
    metrics: { value: string; labels?: Record<string, string> }[];
  }
  export default function parse(text: string): ParsedFamily[];
}
