/**
 * The output-name template: `{{var}}` placeholders only. A tiny strict substitution instead
 * of handlebars because a file name needs no helpers, and handlebars would HTML-escape
 * values ('&' -> '&amp;') and silently render unknown variables as ''.
 */
export const OUTPUT_NAME_VARIABLES = ['name', 'product', 'version'] as const;
export type OutputNameVariable = (typeof OUTPUT_NAME_VARIABLES)[number];
export type OutputNameVars = Record<OutputNameVariable, string>;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export class TemplateError extends Error {}

function isKnownVariable(name: string): name is OutputNameVariable {
  return (OUTPUT_NAME_VARIABLES as readonly string[]).includes(name);
}

/** Replaces every `{{var}}`; throws TemplateError for unknown variables or stray braces. */
export function renderTemplate(template: string, vars: OutputNameVars): string {
  const rendered = template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!isKnownVariable(name)) {
      throw new TemplateError(
        `unknown variable "{{${name}}}" (expected one of: ${OUTPUT_NAME_VARIABLES.map((v) => `{{${v}}}`).join(', ')})`,
      );
    }
    return vars[name];
  });
  // Checked on the template, not the result: values may legitimately contain braces.
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) {
    throw new TemplateError('stray "{" or "}" outside a {{variable}}');
  }
  return rendered;
}
