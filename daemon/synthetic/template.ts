/**
 * Templates of journey steps: text with `{{name}}` placeholders, filled from
 * the run's variables. Strict by design: a placeholder is `{{` a name `}}`
 * (letters, digits and `_`, not starting with a digit, spaces around the
 * name allowed); an unclosed `{{`, an empty or malformed name is an error,
 * and so is a name no variable defines (checked at config check, see
 * {@link templateNames}). There is no escape and no expression: what is
 * between the braces is a name, nothing else.
 */

/** A parsed template: literal text and variable names, alternating (text first). */
export interface Template {
  /** `parts[0]`, `parts[2]`, … are text; `parts[1]`, `parts[3]`, … are names. */
  parts: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `text`; an error message (without a path) when it is not a template. */
export function parseTemplate(text: string): Template | { error: string } {
  const parts: string[] = [];
  let at = 0;
  for (;;) {
    const open = text.indexOf('{{', at);
    if (open < 0) {
      parts.push(text.slice(at));
      return { parts };
    }
    const close = text.indexOf('}}', open + 2);
    if (close < 0) return { error: `unclosed '{{' at character ${open + 1}` };
    const name = text.slice(open + 2, close).trim();
    if (!NAME.test(name)) {
      return { error: `'{{${text.slice(open + 2, close)}}}' is not a variable name (letters, digits, '_')` };
    }
    parts.push(text.slice(at, open), name);
    at = close + 2;
  }
}

/** The variable names a template uses, in order (with repeats). */
export function templateNames(t: Template): string[] {
  return t.parts.filter((_, i) => i % 2 === 1);
}

/**
 * The text with every placeholder replaced by its variable's value. A name
 * without a value is a bug here (config check refuses such templates), so it
 * throws.
 */
export function fillTemplate(t: Template, vars: ReadonlyMap<string, string>): string {
  let out = '';
  t.parts.forEach((p, i) => {
    if (i % 2 === 0) {
      out += p;
      return;
    }
    const v = vars.get(p);
    if (v === undefined) throw new Error(`template variable '${p}' has no value`);
    out += v;
  });
  return out;
}
